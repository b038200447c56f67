package platform

// Shutdown is what a function runs on SIGTERM, for the tests of package platform_test.
func (d *Deps) Shutdown() { d.shutdown() }
