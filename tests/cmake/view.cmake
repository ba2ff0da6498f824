# tagstream-view: the view and its HTTP side without a broker (`unit`), and
# the page in a real browser against a real broker (`integration`).
ts_unit_test(test_view ts_view PkgConfig::JANSSON)
