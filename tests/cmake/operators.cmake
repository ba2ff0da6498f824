# Operations: the metrics registry and the HTTP endpoint (/health, /ready,
# /metrics). HTTP runs over loopback, no broker: label `unit`.
ts_unit_test(test_metrics ts_common)
ts_unit_test(test_emf ts_common PkgConfig::JANSSON)
ts_unit_test(test_http ts_common PkgConfig::CURL PkgConfig::JANSSON)
ts_unit_test(test_probe ts_common)
ts_unit_test(test_kstats ts_common)
