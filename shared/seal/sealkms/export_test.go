package sealkms

// NewClient is newClient, for the tests: the client Provider builds, pointed at a fake.
var NewClient = newClient
