// The type every generated dashboard must satisfy: Grafana's own Dashboard type from @grafana/schema
// (pinned in package.json to the Grafana version the dashboards target), adjusted in two declared ways.
// tests/test_grafana_schema.py writes each grafana/dashboards/*.json as an object literal
// `... satisfies CheckedDashboard` and runs `tsc --noEmit`: wrong types, missing required fields and
// unknown properties (excess property checks) are errors.
import type { AnnotationQuery, Dashboard, VariableModel } from "@grafana/schema";

// JSON has no enum members: each string enum of the schema (ThresholdsMode, MappingType, ...) is checked as
// the union of its values ("absolute" | "percentage").
type JsonOf<T> = T extends string
  ? `${T}`
  : T extends Array<infer U>
    ? Array<JsonOf<U>>
    : T extends object
      ? { [K in keyof T]: JsonOf<T[K]> }
      : T;

// AnnotationQuery models only the generic fields; these are the Prometheus data source's own, which it
// reads from the annotation itself (its classic form), so they are declared here, not left unchecked.
interface PrometheusAnnotationFields {
  expr?: string;
  step?: string;
  titleFormat?: string;
  textFormat?: string;
  tagKeys?: string;
  useValueForTime?: boolean;
}

// Grafana writes a query variable's query text also as `definition` (shown in the variables list); the
// schema's VariableModel does not list it.
interface QueryVariableFields {
  definition?: string;
}

export type CheckedDashboard = Omit<JsonOf<Dashboard>, "annotations" | "templating"> & {
  annotations?: { list?: Array<JsonOf<AnnotationQuery> & PrometheusAnnotationFields> };
  templating?: { list?: Array<JsonOf<VariableModel> & QueryVariableFields> };
};
