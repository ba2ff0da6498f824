# Operations: the metrics registry.
ts_unit_test(test_metrics ts_common)
