package cpi

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
)

// MessageProcessingLogRun is one processing run of a message (com.sap.hci.api.MessageProcessingLogRun):
// the first attempt or a retry. OverallState is the message's status after the run.
type MessageProcessingLogRun struct {
	Id           string
	RunStart     Time
	RunStop      Time // zero while the run is still running
	LogLevel     string
	OverallState string
	ProcessId    string // the worker node
}

// MessageProcessingLogRunStep is one step of a run (com.sap.hci.api.MessageProcessingLogRunStep), keyed
// by RunId and ChildCount (its sequence number in the run). ModelStepId names the iFlow model element
// (CallActivity_3, MessageFlow_11, EndEvent_2); a failing step carries the error text in Error.
type MessageProcessingLogRunStep struct {
	RunId             string
	ChildCount        Int32
	StepStart         Time
	StepStop          Time
	StepId            string
	ModelStepId       string
	BranchId          string
	Status            string
	Error             string
	Activity          string
	RunStepProperties Expanded[RunStepProperty]
}

// RunStepProperty is a name/value pair of a run step (com.sap.hci.api.MessageProcessingLogRunStepProperty).
type RunStepProperty struct {
	RunId      string
	ChildCount Int32
	Name       string
	Value      string
}

// Int32 is an Edm.Int32, which OData V2 JSON carries as a number; a string holding one is accepted as
// for Int64, since hand-written SAP examples mix the two.
type Int32 int32

// UnmarshalJSON accepts 3, "3" and null.
func (n *Int32) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return fmt.Errorf("odata: bad Int32 %.40s", b)
	}
	*n = Int32(v)
	return nil
}

// runStepsPage is the $top of one RunSteps request; public clients use 500 to 1000.
const runStepsPage = 500

// MessageRuns reads MessageProcessingLogs('<guid>')/Runs in the order the tenant sends them (newest
// first on the tenants seen so far; sorting is the caller's job). A tenant that does not offer runs
// answers 404, which comes back as an httpapi.KindNotFound error.
func (c *Client) MessageRuns(ctx context.Context, guid string) ([]MessageProcessingLogRun, error) {
	path := "MessageProcessingLogs" + keyPredicate(keyPart{Value: guid}) + "/Runs"
	return listAll[MessageProcessingLogRun](ctx, c, GroupMessages, "fetching Runs of message "+guid, path, nil)
}

// RunSteps reads MessageProcessingLogRuns('<runID>')/RunSteps with their properties, at most max steps
// (max <= 0: all), in the order the tenant sends them (newest first). It asks for windows of $top steps
// with $skip, follows the next links of a tenant that pages below $top, and uses $inlinecount to tell
// whether another window is needed, so that it also completes on a tenant that cuts a page short
// without a next link.
func (c *Client) RunSteps(ctx context.Context, runID string, max int) ([]MessageProcessingLogRunStep, error) {
	path := "MessageProcessingLogRuns" + keyPredicate(keyPart{Value: runID}) + "/RunSteps"
	op := "fetching RunSteps of run " + runID
	var out []MessageProcessingLogRunStep
	for {
		want := runStepsPage
		if max > 0 {
			want = min(want, max-len(out))
		}
		q := Query{}.Add("$expand", "RunStepProperties").Add("$inlinecount", "allpages").Add("$top", strconv.Itoa(want))
		if len(out) > 0 {
			q = q.Add("$skip", strconv.Itoa(len(out)))
		}
		got, total := 0, int64(-1)
		err := List(ctx, c, GroupMessages, op, path, q, func(p Page[MessageProcessingLogRunStep]) error {
			out = append(out, p.Results...)
			got += len(p.Results)
			if p.HasCount {
				total = p.Count
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		switch {
		case max > 0 && len(out) >= max:
			return out[:max], nil
		case got == 0:
			return out, nil
		case total >= 0 && int64(len(out)) >= total:
			return out, nil
		case total < 0 && got < want:
			return out, nil // without a count, a short window is the last one
		}
	}
}
