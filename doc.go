// Package sapcpireceiver is the module root of the SAP Cloud Integration receiver.
//
// The collector component lives in ./receiver; the CPI API client in ./internal/cpi. This file
// gives mdatagen a package at the root, where metadata.yaml (the source of truth for attributes,
// metrics and events) sits; `make generate` runs it and moves the generated tests into ./receiver.
package sapcpireceiver
