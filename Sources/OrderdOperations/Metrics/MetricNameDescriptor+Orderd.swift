import OrderdSupport
import Prometheus

extension MetricNameDescriptor {
    /// `orderd_<name>_<unit>` (no unit suffix when `unit` is empty), with its `# HELP` text.
    static func orderd(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "orderd", metricName: name, unitName: unit, helpText: help)
    }
}
