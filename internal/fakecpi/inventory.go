package fakecpi

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The simulated tenant's content changes with every TimeScale "epoch" since Start: one artifact is
// redeployed per epoch, Send_Invoice_to_Ariba is in ERROR in odd epochs, OrgUnit_Sync is undeployed in
// every fourth epoch, the supplier_portal certificate (20 days from expiry) is replaced in epoch 5 and
// later, and JMS fills and drains.

func (s *Server) epoch(now time.Time) int {
	start := s.opts.Start
	if start.IsZero() || now.Before(start) {
		return 0
	}
	return int(now.Sub(start) / s.opts.TimeScale)
}

func odataDate(t time.Time) string { return "/Date(" + strconv.FormatInt(t.UnixMilli(), 10) + ")/" }

func meta(base, set, key, typ string) map[string]any {
	uri := base + set + "('" + key + "')"
	return map[string]any{"id": uri, "uri": uri, "type": "com.sap.hci.api." + typ}
}

type artifactState struct {
	id, name, typ, version, status string
	deployedOn                     time.Time
}

// artifacts is the runtime state at epoch e.
func (s *Server) artifacts(e int) []artifactState {
	start := s.opts.Start
	var out []artifactState
	for i, f := range landscape {
		if f.id == "OrgUnit_Sync" && e%4 == 3 {
			continue // undeployed for now
		}
		redeploys := 0
		if e > i {
			redeploys = (e - i + len(landscape) - 1) / len(landscape)
		}
		a := artifactState{id: f.id, name: f.name, typ: "INTEGRATION_FLOW", version: fmt.Sprintf("1.0.%d", 3+redeploys),
			status: "STARTED", deployedOn: start.Add(-72*time.Hour + time.Duration(i)*time.Hour)}
		if redeploys > 0 {
			a.deployedOn = start.Add(time.Duration(i+(redeploys-1)*len(landscape)) * s.opts.TimeScale)
		}
		if f.id == "Send_Invoice_to_Ariba" && e%2 == 1 {
			a.status = "ERROR"
		}
		out = append(out, a)
	}
	out = append(out,
		artifactState{id: "VM_CountryCodes", name: "Country Code Mapping", typ: "VALUE_MAPPING", version: "1.0.0", status: "STARTED", deployedOn: start.Add(-240 * time.Hour)},
		artifactState{id: "Shared_Groovy_Scripts", name: "Shared Groovy Scripts", typ: "SCRIPT_COLLECTION", version: "2.1.0", status: "STARTED", deployedOn: start.Add(-200 * time.Hour)},
	)
	return out
}

// designtimeVersion is the package content's version: one flow has an undeployed newer draft (drift).
func designtimeVersion(a artifactState) string {
	if a.id == "Payment_Run_to_Bank" {
		return "1.1.0"
	}
	return a.version
}

const artifactErrorJSON = `{"message":{"subsystemName":"IFLMAP","subsytemPartName":"Route","messageId":"IFLMAP_DEPLOY_FAILED","messageText":"Failed to create route: Receiver channel Ariba_SOAP has no valid credential alias 'ariba_basic'"},"parameter":["Send_Invoice_to_Ariba"],"childInstances":[]}`

type keystoreEntry struct {
	alias, typ, owner, keyType, subject, issuer, serial string
	keySize                                             int
	notBefore, notAfter                                 time.Time
}

func (s *Server) keystore(e int) []keystoreEntry {
	start := s.opts.Start
	supplier := keystoreEntry{alias: "supplier_portal", typ: "Certificate", owner: "Tenant Administrator", keyType: "RSA", keySize: 2048,
		subject: "CN=portal.supplier.example, O=Supplier AG, C=DE", issuer: "CN=GlobalSign RSA OV SSL CA 2018, O=GlobalSign nv-sa, C=BE",
		serial: "0x4A1F0C22", notBefore: start.Add(-345 * 24 * time.Hour), notAfter: start.Add(20 * 24 * time.Hour)}
	if e >= 5 {
		supplier.serial, supplier.notBefore, supplier.notAfter = "0x7D3390A1", start.Add(5*s.opts.TimeScale), start.Add(5*s.opts.TimeScale+365*24*time.Hour)
	}
	return []keystoreEntry{
		{alias: "sap_cloudintegrationcertificate", typ: "Key Pair", owner: "SAP", keyType: "RSA", keySize: 2048,
			subject: "CN=acme.it-cpi018.cfapps.eu10-003.hana.ondemand.com, O=SAP SE, C=DE", issuer: "CN=SAP Cloud Root CA, O=SAP SE, C=DE",
			serial: "0x01A2B3C4", notBefore: start.Add(-65 * 24 * time.Hour), notAfter: start.Add(300 * 24 * time.Hour)},
		supplier,
		{alias: "ariba_root", typ: "Certificate", owner: "Tenant Administrator", keyType: "RSA", keySize: 4096,
			subject: "CN=DigiCert Global Root G2, OU=www.digicert.com, O=DigiCert Inc, C=US", issuer: "CN=DigiCert Global Root G2, OU=www.digicert.com, O=DigiCert Inc, C=US",
			serial: "0x033AF1E6", notBefore: start.Add(-4000 * 24 * time.Hour), notAfter: start.Add(3000 * 24 * time.Hour)},
		{alias: "bank_ebics_key", typ: "Key Pair", owner: "Tenant Administrator", keyType: "EC", keySize: 256,
			subject: "CN=acme-ebics, O=Acme Corp, C=DE", issuer: "CN=Acme Issuing CA 01, O=Acme Corp, C=DE",
			serial: "0x5E2C91A7", notBefore: start.Add(-275 * 24 * time.Hour), notAfter: start.Add(90 * 24 * time.Hour)},
	}
}

// senders are the flows with a service endpoint: protocol and path.
var senders = map[string][2]string{
	"SalesOrder_from_Webshop":      {"REST", "/http/webshop/salesorder"},
	"Receive_OrderConfirmation":    {"SOAP", "/cxf/orderconfirmation"},
	"EDI_ORDERS_Inbound":           {"AS2", "/as2/as2/orders"},
	"Shipment_Status_from_Carrier": {"ODATAV2", "/gw/odata/SAP/SHIPMENTSTATUS;v=1"},
	"Customer_Master_to_CRM":       {"SOAP", "/cxf/customermaster"},
}

func (s *Server) inventory(req *http.Request, path string, base string, now time.Time) (int, []byte, string, bool) {
	q := req.URL.Query()
	e := s.epoch(now)
	switch {
	case path == "LogFiles":
		if s.opts.CloudFoundry {
			return 0, nil, "", false // documented for Neo; answered 404 here to exercise that path
		}
		return s.listLogFiles(base, now)
	case path == "AuditLogs":
		if s.opts.CloudFoundry {
			return 0, nil, "", false // the entity set exists on Neo only
		}
		status, body := s.listAuditLogs(req, base, now)
		return status, body, "application/json", true
	case path == "IntegrationRuntimeArtifacts":
		var rows []map[string]any
		for _, a := range s.artifacts(e) {
			rows = append(rows, map[string]any{
				"__metadata": meta(base, "IntegrationRuntimeArtifacts", a.id, "IntegrationRuntimeArtifact"),
				"Id":         a.id, "Version": a.version, "Name": a.name, "Type": a.typ,
				"DeployedBy": "deployer@acme.example", "DeployedOn": odataDate(a.deployedOn), "Status": a.status,
			})
		}
		return collection(rows)
	case path == "ServiceEndpoints":
		var rows []map[string]any
		for _, a := range s.artifacts(e) {
			sd, ok := senders[a.id]
			if !ok {
				continue
			}
			id := a.id + "$endpointAddress=" + strings.TrimPrefix(sd[1], "/")
			url := strings.TrimSuffix(base, "/api/v1/") + sd[1]
			row := map[string]any{
				"__metadata": meta(base, "ServiceEndpoints", id, "ServiceEndpoint"),
				"Name":       a.id, "Id": id, "Title": a.name, "Version": a.version, "Summary": "", "Description": "",
				"LastUpdated": odataDate(a.deployedOn), "Protocol": sd[0],
				"EntryPoints": map[string]any{"results": []map[string]any{{"Name": a.id, "Url": url, "Type": "PROD", "AdditionalInformation": ""}}},
			}
			defs := []map[string]any{}
			if sd[0] == "SOAP" {
				defs = append(defs, map[string]any{"Url": url + "?wsdl", "Name": "wsdl"})
			}
			row["ApiDefinitions"] = map[string]any{"results": defs}
			rows = append(rows, row)
		}
		return collection(rows)
	case path == "KeystoreEntries":
		name := "system"
		if v := q["keystoreName"]; len(v) > 0 {
			name = v[0]
		}
		var rows []map[string]any
		if name == "system" {
			for _, k := range s.keystore(e) {
				hexalias := strings.ToUpper(hex.EncodeToString([]byte(k.alias)))
				rows = append(rows, map[string]any{
					"__metadata": meta(base, "KeystoreEntries", hexalias, "KeystoreEntry"),
					"Hexalias":   hexalias, "Alias": k.alias, "KeyType": k.keyType, "KeySize": k.keySize,
					"ValidNotBefore": odataDate(k.notBefore), "ValidNotAfter": odataDate(k.notAfter),
					"SerialNumber": k.serial, "SignatureAlgorithm": "SHA256withRSA", "EllipticCurve": nil, "Validity": nil,
					"SubjectDN": k.subject, "IssuerDN": k.issuer, "Version": 3,
					"FingerprintSha1": "4A:7B:" + k.serial[2:6], "FingerprintSha256": "D1:33:" + k.serial[2:6], "FingerprintSha512": "08:C4:" + k.serial[2:6],
					"Type": k.typ, "Owner": k.owner, "LastModifiedBy": "jane.doe@acme.example", "LastModifiedTime": odataDate(k.notBefore),
					"CreatedBy": "jane.doe@acme.example", "CreatedTime": odataDate(k.notBefore), "Status": "unchanged",
				})
			}
		}
		return collection(rows)
	case path == "IntegrationPackages":
		seen := map[string]bool{}
		var rows []map[string]any
		for _, f := range landscape {
			if seen[f.pkgID] {
				continue
			}
			seen[f.pkgID] = true
			rows = append(rows, map[string]any{
				"__metadata": meta(base, "IntegrationPackages", f.pkgID, "IntegrationPackage"),
				"Id":         f.pkgID, "Name": f.pkgName, "ResourceId": strings.ToLower(f.pkgID), "Description": "<p>" + f.pkgName + "</p>",
				"ShortText": f.pkgName, "Version": "1.0.0", "Vendor": "Acme Corp", "PartnerContent": false, "UpdateAvailable": false,
				"Mode": "EDIT_ALLOWED", "SupportedPlatform": "SAP Cloud Integration", "ModifiedBy": "jane.doe@acme.example",
				"CreationDate": strconv.FormatInt(s.opts.Start.Add(-400*24*time.Hour).UnixMilli(), 10),
				"ModifiedDate": strconv.FormatInt(s.opts.Start.Add(-3*24*time.Hour).UnixMilli(), 10),
				"CreatedBy":    "john.roe@acme.example", "Products": "[]", "Keywords": "[]", "Countries": "[]", "Industries": "[]", "LineOfBusiness": "[]",
			})
		}
		return collection(rows)
	}
	return s.operations(req, path, base, now)
}

// keyedInventory answers the inventory paths with a key predicate.
func (s *Server) keyedInventory(kp keyedPath, base string, now time.Time) (int, []byte, string, bool) {
	e := s.epoch(now)
	key, single := kp.single()
	switch {
	case kp.set == "LogFiles" && kp.rest == "/$value" && !s.opts.CloudFoundry:
		name, ok := kp.named["Name"]
		if !ok {
			return 0, nil, "", false
		}
		return s.logFileValue(name, now)
	case kp.set == "IntegrationRuntimeArtifacts" && kp.rest == "/ErrorInformation/$value" && single:
		for _, a := range s.artifacts(e) {
			if a.id == key && a.status == "ERROR" {
				return http.StatusOK, []byte(artifactErrorJSON), "application/json", true
			}
		}
		return http.StatusNoContent, nil, "text/plain", true
	case kp.set == "IntegrationPackages" && kp.rest == "/IntegrationDesigntimeArtifacts" && single:
		pkg := key
		deployed := map[string]artifactState{}
		for _, a := range s.artifacts(e) {
			deployed[a.id] = a
		}
		var rows []map[string]any
		for i, f := range landscape {
			if f.pkgID != pkg {
				continue
			}
			a, ok := deployed[f.id]
			if !ok {
				a = artifactState{id: f.id, version: "1.0.3"}
			}
			rows = append(rows, map[string]any{
				"__metadata": meta(base, "IntegrationDesigntimeArtifacts", f.id, "IntegrationDesigntimeArtifact"),
				"Id":         f.id, "Version": designtimeVersion(a), "PackageId": pkg, "Name": f.name, "Description": "",
				"Sender": "", "Receiver": "", "CreatedBy": "john.roe@acme.example", "ModifiedBy": "jane.doe@acme.example",
				"CreatedAt":  strconv.FormatInt(s.opts.Start.Add(-300*24*time.Hour).UnixMilli(), 10),
				"ModifiedAt": strconv.FormatInt(s.opts.Start.Add(-time.Duration(i)*24*time.Hour).UnixMilli(), 10),
			})
		}
		return collection(rows)
	case kp.set == "JmsBrokers" && key == "Broker1" && single && kp.rest == "":
		used := int64(2_000_000_000 + (e%6)*800_000_000)
		states := []map[string]any{}
		for i, q := range []string{"JMS_ORDERS_IN", "JMS_INVOICES_OUT", "JMS_IDOC_RETRY", "JMS_SHIPMENTS", "JMS_DEADLETTER"} {
			state := 0
			if i == 4 && e%3 == 2 {
				state = 2
			} else if i == 2 && e%2 == 1 {
				state = 1
			}
			states = append(states, map[string]any{"Name": q, "State": strconv.Itoa(state)})
		}
		warn, crit := 0, 0
		for _, st := range states {
			switch st["State"] {
			case "1":
				warn++
			case "2":
				crit++
			}
		}
		row := map[string]any{
			"__metadata": meta(base, "JmsBrokers", "Broker1", "JmsBroker"),
			"Key":        "Broker1", "Capacity": strconv.FormatInt(used, 10), "MaxCapacity": "9300000000",
			"IsTransactedSessionsHigh": 0, "IsConsumersHigh": 0, "IsProducersHigh": 0,
			"MaxQueueNumber": "30", "QueueNumber": strconv.Itoa(len(states)),
			"CapacityOk": strconv.Itoa(len(states) - warn - crit), "CapacityWarning": strconv.Itoa(warn), "CapacityError": strconv.Itoa(crit),
			"IsQueuesHigh": 0, "IsMessageSpoolHigh": boolInt(used > 8_000_000_000),
			"QueueStates": map[string]any{"results": states},
		}
		raw, _ := json.Marshal(map[string]any{"d": row})
		return http.StatusOK, raw, "application/json", true
	}
	return 0, nil, "", false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func collection(rows []map[string]any) (int, []byte, string, bool) {
	if rows == nil {
		rows = []map[string]any{}
	}
	raw, _ := json.Marshal(map[string]any{"d": map[string]any{"results": rows}})
	return http.StatusOK, raw, "application/json", true
}
