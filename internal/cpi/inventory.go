package cpi

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// IntegrationRuntimeArtifact is a deployed artifact (com.sap.hci.api.IntegrationRuntimeArtifact).
type IntegrationRuntimeArtifact struct {
	Id         string
	Version    string
	Name       string
	Type       string
	DeployedBy string
	DeployedOn Time
	Status     string
}

// ServiceEndpoint is an endpoint a deployed flow offers (com.sap.hci.api.ServiceEndpoint), expanded.
type ServiceEndpoint struct {
	Name           string // the flow id
	Id             string
	Title          string
	Version        string
	Summary        string
	Description    string
	LastUpdated    Time
	Protocol       string
	EntryPoints    Expanded[EntryPoint]
	ApiDefinitions Expanded[APIDefinition]
}

// EntryPoint is one URL of a service endpoint.
type EntryPoint struct {
	Name, Url, Type, AdditionalInformation string
}

// APIDefinition links an API description (WSDL, OpenAPI, EDMX).
type APIDefinition struct {
	Url, Name string
}

// Expanded is a to-many navigation read with $expand: {"results":[…]}; a deferred stub reads as empty.
type Expanded[T any] []T

// UnmarshalJSON accepts {"results":[…]}, a bare array, {"__deferred":…} and null.
func (e *Expanded[T]) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, (*[]T)(e))
	}
	var nav struct {
		Results []T `json:"results"`
	}
	if err := json.Unmarshal(b, &nav); err != nil {
		return err
	}
	*e = nav.Results
	return nil
}

// KeystoreEntry is an entry of a keystore (com.sap.hci.api.KeystoreEntry).
type KeystoreEntry struct {
	Hexalias           string
	Alias              string
	KeyType            string
	KeySize            int
	ValidNotBefore     Time
	ValidNotAfter      Time
	SerialNumber       string
	SignatureAlgorithm string
	EllipticCurve      string
	SubjectDN          string
	IssuerDN           string
	Version            int
	FingerprintSha1    string
	FingerprintSha256  string
	FingerprintSha512  string
	Type               string
	Owner              string
	LastModifiedBy     string
	LastModifiedTime   Time
	CreatedBy          string
	CreatedTime        Time
	Status             string
}

// IntegrationPackage is a design-time package (com.sap.hci.api.IntegrationPackage). Its dates are
// Edm.String holding epoch milliseconds, which Time reads too.
type IntegrationPackage struct {
	Id                string
	Name              string
	ShortText         string
	Version           string
	Vendor            string
	Mode              string
	SupportedPlatform string
	PartnerContent    Bool
	UpdateAvailable   Bool
	CreatedBy         string
	CreationDate      Time
	ModifiedBy        string
	ModifiedDate      Time
}

// IntegrationDesigntimeArtifact is an iFlow as designed in a package.
type IntegrationDesigntimeArtifact struct {
	Id         string
	Version    string
	PackageId  string
	Name       string
	CreatedBy  string
	CreatedAt  Time
	ModifiedBy string
	ModifiedAt Time
}

// JmsBroker is the tenant's JMS broker (com.sap.hci.api.JmsBroker) with its queue states.
type JmsBroker struct {
	Key                      string
	Capacity                 Int64
	MaxCapacity              Int64
	IsTransactedSessionsHigh Int64
	IsConsumersHigh          Int64
	IsProducersHigh          Int64
	MaxQueueNumber           Int64
	QueueNumber              Int64
	CapacityOk               Int64
	CapacityWarning          Int64
	CapacityError            Int64
	IsQueuesHigh             Int64
	IsMessageSpoolHigh       Int64
	QueueStates              Expanded[QueueState]
}

// QueueState is a queue's fill state: 0 OK, 1 warning, 2 critical.
type QueueState struct {
	Name  string
	State Int64
}

func listAll[T any](ctx context.Context, c *Client, group httpapi.Group, op, path string, q Query) ([]T, error) {
	var out []T
	err := List(ctx, c, group, op, path, q, func(p Page[T]) error {
		out = append(out, p.Results...)
		return nil
	})
	return out, err
}

// RuntimeArtifacts lists every deployed artifact.
func (c *Client) RuntimeArtifacts(ctx context.Context) ([]IntegrationRuntimeArtifact, error) {
	return listAll[IntegrationRuntimeArtifact](ctx, c, GroupRuntimeArtifacts, "fetching IntegrationRuntimeArtifacts", "IntegrationRuntimeArtifacts",
		Query{}.Add("$select", "Id,Version,Name,Type,DeployedBy,DeployedOn,Status"))
}

// RuntimeArtifactError reads the error of an artifact in status ERROR. The answer is a JSON document
// whose message text is returned; SAP spells one of its keys two ways, and some tenants send plain text.
func (c *Client) RuntimeArtifactError(ctx context.Context, id string, limit int) (string, error) {
	path := "IntegrationRuntimeArtifacts" + keyPredicate(keyPart{Value: id}) + "/ErrorInformation/$value"
	text, _, err := c.GetText(ctx, GroupRuntimeArtifacts, "fetching ErrorInformation of artifact "+id, path, limit)
	if err != nil {
		return "", err
	}
	return ArtifactErrorText(text), nil
}

// ArtifactErrorText extracts messageText from the ErrorInformation document, or returns the text as it is.
func ArtifactErrorText(raw string) string {
	var doc struct {
		Message struct {
			SubsystemName string `json:"subsystemName"`
			SubsystemPart string `json:"subsystemPartName"`
			SubsytemPart  string `json:"subsytemPartName"`
			MessageID     string `json:"messageId"`
			MessageText   string `json:"messageText"`
		} `json:"message"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil || doc.Message.MessageText == "" {
		return strings.TrimSpace(raw)
	}
	return doc.Message.MessageText
}

// ServiceEndpoints lists every endpoint with its entry points and API definitions.
func (c *Client) ServiceEndpoints(ctx context.Context) ([]ServiceEndpoint, error) {
	return listAll[ServiceEndpoint](ctx, c, GroupRuntimeArtifacts, "fetching ServiceEndpoints", "ServiceEndpoints",
		Query{}.Add("$expand", "EntryPoints,ApiDefinitions"))
}

// KeystoreEntries lists the entries of a keystore (system, backup_admin_system, KeyRenewal).
func (c *Client) KeystoreEntries(ctx context.Context, keystore string) ([]KeystoreEntry, error) {
	return listAll[KeystoreEntry](ctx, c, GroupSecurityContent, "fetching KeystoreEntries of keystore "+keystore, "KeystoreEntries",
		Query{}.Add("keystoreName", keystore))
}

// IntegrationPackages lists every design-time package.
func (c *Client) IntegrationPackages(ctx context.Context) ([]IntegrationPackage, error) {
	return listAll[IntegrationPackage](ctx, c, GroupDesignTime, "fetching IntegrationPackages", "IntegrationPackages", nil)
}

// PackageArtifacts lists the iFlows of one package.
func (c *Client) PackageArtifacts(ctx context.Context, packageID string) ([]IntegrationDesigntimeArtifact, error) {
	path := "IntegrationPackages" + keyPredicate(keyPart{Value: packageID}) + "/IntegrationDesigntimeArtifacts"
	return listAll[IntegrationDesigntimeArtifact](ctx, c, GroupDesignTime, "fetching the design-time artifacts of package "+packageID, path,
		Query{}.Add("$select", "Id,Version,PackageId,Name,CreatedBy,CreatedAt,ModifiedBy,ModifiedAt"))
}

// JmsBroker reads JmsBrokers('Broker1') with its queue states.
func (c *Client) JmsBroker(ctx context.Context) (JmsBroker, error) {
	var b JmsBroker
	path := "JmsBrokers" + keyPredicate(keyPart{Value: "Broker1"})
	err := c.getEntity(ctx, GroupMonitoring, "fetching JmsBrokers('Broker1')", path, Query{}.Add("$expand", "QueueStates"), &b)
	return b, err
}
