package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// How the pods of a DaemonSet share many tenants.
//
// Each tenant has its Lease, and client-go's leader election holds and renews it. What client-go does
// not do is spread the Leases: its candidates acquire whatever is free, so the first pod to start would
// lead every tenant. Here each pod (electionPod, one per namespace and identity in the process) keeps a
// membership Lease of its own, renewed every retry_period, and reads every Lease the receiver wrote with
// one LIST per retry_period. From that view it counts the live pods that run the same tenants, and
// applies the rules of spread (leader_plan.go): it claims free tenant Leases only up to its share
// ⌈N/P⌉, hands the excess over, and evens the spread out one tenant at a time.
//
// A tenant's candidate competes only when the view shows its Lease free (never created, released, or
// expired: not renewed for lease_duration as this pod observed it), so a pod at its share sends nothing
// per tenant it does not lead. It claims the Lease with an update conditional on the resourceVersion it
// listed (two pods claiming at once: one gets 409 Conflict), then runs client-go's elector, which finds
// itself the holder and renews from there. A hand-over stops the tenant's pollers and writes its
// checkpoint before the Lease is released, and names the pod it is meant for in an annotation, which
// the other pods respect for one lease_duration.

const (
	labelManagedBy     = "app.kubernetes.io/managed-by"
	managedBy          = "otelcol-sapcpi"
	labelRole          = "sapcpi.opentelemetry.io/role"
	roleMember         = "member"
	roleTenant         = "tenant"
	annotationGroup    = "sapcpi.opentelemetry.io/tenants"
	annotationHandedTo = "sapcpi.opentelemetry.io/handed-to"
	memberLeasePrefix  = "sapcpi-member-"
)

type podKey struct{ namespace, identity string }

// electionPods are the pods of this process: one, except in tests, which run several.
var electionPods = struct {
	sync.Mutex
	m map[podKey]*electionPod
}{m: map[podKey]*electionPod{}}

var errNotMyTurn = errors.New("sapcpi: this pod has not claimed the tenant's Lease (it holds its share)")

// electionPod is one pod's part in the election of all the tenants it runs in one namespace.
type electionPod struct {
	key    podKey
	kube   kubeClients
	cfg    LeaderElectionConfig // the timings of the first tenant that joined
	logger *zap.Logger

	mu      sync.Mutex
	cands   map[string]*candidate // by Lease name
	ticks   int
	view    podView
	seen    map[string]sighting
	member  *coordinationv1.Lease // this pod's membership, as last written
	changed chan struct{}         // closed at every change of the view or of a candidate
	// retiring: a tenant of this pod stopped, so the collector is shutting down (or reloading): the pod
	// has left the group and takes nothing more.
	retiring bool
	lastErr  string
	stop     context.CancelFunc
	done     chan struct{}
}

// podView is what the last LIST showed.
type podView struct {
	spread
	allotted, taken int
	// free are the free Leases of this pod's tenants as listed (nil: the Lease does not exist yet).
	free map[string]*coordinationv1.Lease
	// hint maps a free Lease to the pod a hand-over named.
	hint map[string]string
	// heldBy maps a Lease another pod holds to that pod.
	heldBy map[string]string
}

// sighting is when this pod saw a Lease's holder or renewal change. A Lease is valid for lease_duration
// from then: the holder's clock is never compared with ours, as in client-go.
type sighting struct {
	holder string
	renew  time.Time
	at     time.Time
}

type candidateState int

const (
	idle        candidateState = iota
	leading                    // claimed, and leading once the elector confirmed it
	handingOver                // pollers stopping, then the Lease is released
)

// candidate is one tenant's Lease in one pod.
type candidate struct {
	pod       *electionPod
	lease     string
	configMap string
	receiver  component.ID
	lock      *resourcelock.LeaseLock
	logger    *zap.Logger

	start func(context.Context)
	stop  func()
	// termMu orders the start and stop of the pollers, which the elector calls from two goroutines.
	termMu  sync.Mutex
	started atomic.Bool // the elector confirmed the Lease and the pollers run

	// Guarded by pod.mu.
	state      candidateState
	since      time.Time
	handTo     string
	cancelTerm context.CancelFunc
}

// joinElection registers a tenant with its pod's election. Two tenants with one Lease, or one checkpoint
// ConfigMap, are refused: they would lead together, or overwrite each other's checkpoints.
func joinElection(kube kubeClients, c LeaderElectionConfig, id component.ID, logger *zap.Logger) (*candidate, error) {
	key := podKey{namespace: c.namespace(), identity: c.identity()}
	electionPods.Lock()
	defer electionPods.Unlock()
	p := electionPods.m[key]
	if p == nil {
		p = &electionPod{key: key, kube: kube, cfg: c, logger: logger.With(zap.String("identity", key.identity)),
			cands: map[string]*candidate{}, seen: map[string]sighting{}, changed: make(chan struct{})}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.cands {
		switch {
		case c.LeaseDuration != p.cfg.LeaseDuration || c.RenewDeadline != p.cfg.RenewDeadline || c.RetryPeriod != p.cfg.RetryPeriod:
			// One election per pod and namespace: its membership and view run at one pace.
			return nil, fmt.Errorf("leader_election: lease_duration, renew_deadline and retry_period (%s, %s, %s) differ from those of %s (%s, %s, %s); the tenants of a namespace share one election, give them the same timings",
				c.LeaseDuration, c.RenewDeadline, c.RetryPeriod, o.receiver, p.cfg.LeaseDuration, p.cfg.RenewDeadline, p.cfg.RetryPeriod)
		case o.lease == c.LeaseName:
			return nil, fmt.Errorf("leader_election.lease_name %q is also the Lease of %s; give each tenant its own", c.LeaseName, o.receiver)
		case o.configMap == c.CheckpointConfigMap:
			return nil, fmt.Errorf("leader_election.checkpoint_configmap %q also holds the checkpoints of %s; give each tenant its own (a ConfigMap holds at most 1 MiB)", c.CheckpointConfigMap, o.receiver)
		}
	}
	if p.retiring {
		return nil, fmt.Errorf("leader_election: the pod %s is leaving the election of namespace %s", key.identity, key.namespace)
	}
	cand := &candidate{pod: p, lease: c.LeaseName, configMap: c.CheckpointConfigMap, receiver: id,
		logger: logger.With(zap.String("lease", c.LeaseName), zap.String("identity", key.identity)),
		lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Name: c.LeaseName, Namespace: key.namespace},
			Client:     kube.Coordination,
			LockConfig: resourcelock.ResourceLockConfig{Identity: key.identity},
			Labels:     map[string]string{labelManagedBy: managedBy, labelRole: roleTenant},
		}}
	p.cands[c.LeaseName] = cand
	if p.stop == nil {
		ctx, stop := context.WithCancel(context.Background())
		p.stop, p.done = stop, make(chan struct{})
		electionPods.m[key] = p
		go p.run(ctx)
	}
	return cand, nil
}

// lead runs the tenant's part in the election until ctx ends: start runs the pollers under the context
// of a leadership term, stop ends them (and writes their checkpoint). The Lease is released once stop
// returned.
func (c *candidate) lead(ctx context.Context, start func(context.Context), stop func()) {
	c.start, c.stop = start, stop
	for {
		listed, term, ok := c.pod.waitTurn(ctx, c)
		if !ok {
			break
		}
		if !c.claim(term, listed) {
			c.pod.settle(c)
			continue
		}
		c.runTerm(term)
		if ctx.Err() != nil {
			break
		}
		c.finish()
	}
	// The pod leaves the group before the Lease is released, so that the others count it out when they
	// see the Lease free.
	c.pod.leave(c)
	c.finish()
}

// claim makes this pod the Lease's holder: an update conditional on the resourceVersion listed, so that
// of two pods claiming at once only one succeeds. A Lease that does not exist yet is created by the
// elector.
func (c *candidate) claim(ctx context.Context, listed *coordinationv1.Lease) bool {
	if listed == nil {
		return true
	}
	l := listed.DeepCopy()
	me, prev := c.pod.key.identity, ""
	if l.Spec.HolderIdentity != nil {
		prev = *l.Spec.HolderIdentity
	}
	now := metav1.NowMicro()
	transitions := int32(0)
	if l.Spec.LeaseTransitions != nil {
		transitions = *l.Spec.LeaseTransitions
	}
	if prev != me {
		transitions++
	}
	// As client-go's elector writes it, so that it takes the claimed Lease for its own.
	l.Spec.HolderIdentity = &me
	l.Spec.LeaseDurationSeconds = refOf(int32(c.pod.cfg.LeaseDuration / time.Second))
	l.Spec.AcquireTime, l.Spec.RenewTime = &now, &now
	l.Spec.LeaseTransitions = &transitions
	delete(l.Annotations, annotationHandedTo)
	_, err := c.pod.kube.Coordination.Leases(c.pod.key.namespace).Update(ctx, l, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsConflict(err) && ctx.Err() == nil {
		c.logger.Warn("Cannot claim the tenant's Lease", zap.Error(err))
	}
	return err == nil
}

func (c *candidate) runTerm(term context.Context) {
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          &balancedLock{LeaseLock: c.lock, c: c},
		LeaseDuration: c.pod.cfg.LeaseDuration, RenewDeadline: c.pod.cfg.RenewDeadline, RetryPeriod: c.pod.cfg.RetryPeriod,
		Name: c.lease,
		// Released by finish, after the pollers stopped: client-go would release it before calling
		// OnStoppedLeading.
		ReleaseOnCancel: false,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) {
				c.termMu.Lock()
				defer c.termMu.Unlock()
				if lctx.Err() != nil {
					return
				}
				c.started.Store(true)
				c.logger.Info("Leading: polling the tenant")
				c.start(lctx)
			},
			OnStoppedLeading: func() { c.stopPollers("Not leading: polling stopped") },
		},
	})
	if err != nil {
		c.logger.Error("Leader election cannot start", zap.Error(err))
		<-term.Done()
		return
	}
	le.Run(term)
}

// holdsLease reports whether this pod still holds the tenant's Lease with time to spare for one write:
// a checkpoint written after the Lease expired could land over the next leader's. Unable to tell (the
// API server does not answer), it says no.
func (c *candidate) holdsLease(ctx context.Context) bool {
	l, err := c.pod.kube.Coordination.Leases(c.pod.key.namespace).Get(ctx, c.lease, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != c.pod.key.identity ||
		l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return false
	}
	expires := l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)
	return time.Until(expires) > c.pod.cfg.RetryPeriod
}

// stopPollers ends the term's pollers (and writes their checkpoint), once.
func (c *candidate) stopPollers(msg string) {
	c.termMu.Lock()
	defer c.termMu.Unlock()
	if c.started.Swap(false) {
		c.stop()
		c.logger.Info(msg)
	}
}

// finish ends a term: the Lease, if this pod still holds it, is released (naming the pod a hand-over
// is meant for), and the candidate is idle again.
func (c *candidate) finish() {
	p := c.pod
	p.mu.Lock()
	held, to := c.state != idle, c.handTo
	p.mu.Unlock()
	if held {
		c.release(to)
	}
	p.settle(c)
}

// release writes the Lease free, as client-go's release does, if this pod is still its holder.
func (c *candidate) release(to string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.pod.cfg.RenewDeadline)
	defer cancel()
	leases := c.pod.kube.Coordination.Leases(c.pod.key.namespace)
	l, err := leases.Get(ctx, c.lease, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != c.pod.key.identity {
		return
	}
	now := metav1.NowMicro()
	l.Spec.HolderIdentity = refOf("")
	l.Spec.LeaseDurationSeconds = refOf(int32(1))
	l.Spec.AcquireTime, l.Spec.RenewTime = &now, &now
	if to != "" {
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[annotationHandedTo] = to
	} else {
		delete(l.Annotations, annotationHandedTo)
	}
	if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		c.logger.Warn("Cannot release the tenant's Lease; another pod takes it once it expired (lease_duration)", zap.Error(err))
	}
}

// balancedLock is the tenant's LeaseLock, which lets the elector acquire the Lease only under this pod's
// claim: an elector left to itself takes whatever Lease is free.
type balancedLock struct {
	*resourcelock.LeaseLock
	c *candidate
}

func (l *balancedLock) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	if !l.c.pod.claimed(l.c) {
		return errNotMyTurn
	}
	return l.LeaseLock.Create(ctx, r)
}

func (l *balancedLock) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	if r.HolderIdentity == l.Identity() && !l.c.pod.claimed(l.c) {
		return errNotMyTurn
	}
	return l.LeaseLock.Update(ctx, r)
}

func (p *electionPod) claimed(c *candidate) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return c.state != idle
}

// waitTurn waits until the view lets the candidate claim its Lease, and reserves the claim: the pod's
// count includes it from then on. It returns the Lease as listed and the term's context.
func (p *electionPod) waitTurn(ctx context.Context, c *candidate) (*coordinationv1.Lease, context.Context, bool) {
	for {
		p.mu.Lock()
		if ctx.Err() != nil {
			p.mu.Unlock()
			return nil, nil, false
		}
		if listed, ok := p.mayClaim(c); ok {
			term, cancel := context.WithCancel(ctx)
			c.state, c.since, c.handTo, c.cancelTerm = leading, time.Now(), "", cancel
			p.view.taken++
			delete(p.view.free, c.lease)
			p.mu.Unlock()
			return listed, term, true
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, nil, false
		case <-ch:
		}
	}
}

// mayClaim reports whether the candidate may claim its Lease now; callers hold p.mu.
func (p *electionPod) mayClaim(c *candidate) (*coordinationv1.Lease, bool) {
	// The first view is only taken one retry_period after the pod joined, and claims wait for the second,
	// so that pods started together see each other before they claim.
	if p.ticks < 2 || p.retiring || c.state != idle {
		return nil, false
	}
	listed, free := p.view.free[c.lease]
	if !free || p.view.taken >= p.view.allotted || p.mine() >= p.view.share() {
		return nil, false
	}
	if to := p.view.hint[c.lease]; to != "" && to != p.key.identity {
		return nil, false
	}
	return listed, true
}

// mine counts the Leases this pod holds or claims; callers hold p.mu.
func (p *electionPod) mine() int {
	n := 0
	for _, c := range p.cands {
		if c.state != idle {
			n++
		}
	}
	return n
}

// settle marks the candidate idle after a term or a failed claim.
func (p *electionPod) settle(c *candidate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.state, c.handTo, c.cancelTerm = idle, "", nil
	p.broadcast()
}

// broadcast wakes the candidates waiting for their turn; callers hold p.mu.
func (p *electionPod) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// handOver stops the candidate's pollers and ends its term, so that finish releases the Lease for the
// pod named; callers hold p.mu.
func (p *electionPod) handOver(c *candidate, to string) {
	c.state, c.handTo = handingOver, to
	cancel := c.cancelTerm
	go func() {
		c.stopPollers("Handed the tenant over to even out leadership: polling stopped")
		cancel()
	}()
}

// leave takes the tenant out of the pod. The first tenant to leave retires the pod from the group: a
// collector stops its receivers when it shuts down or reloads, so the others follow.
func (p *electionPod) leave(c *candidate) {
	electionPods.Lock()
	p.mu.Lock()
	delete(p.cands, c.lease)
	first := !p.retiring
	p.retiring = true
	last := len(p.cands) == 0
	if last && electionPods.m[p.key] == p {
		delete(electionPods.m, p.key)
	}
	p.broadcast()
	p.mu.Unlock()
	electionPods.Unlock()
	if last {
		p.stop()
		<-p.done
	}
	if first {
		p.deleteMembership()
	}
}

// run takes the view every retry_period and acts on it.
func (p *electionPod) run(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.cfg.RetryPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.tick(ctx)
	}
}

func (p *electionPod) tick(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RenewDeadline)
	defer cancel()
	p.mu.Lock()
	retiring := p.retiring
	p.mu.Unlock()
	var err error
	if !retiring {
		err = p.renewMembership(ctx)
	}
	var list *coordinationv1.LeaseList
	if err == nil {
		list, err = p.kube.Coordination.Leases(p.key.namespace).List(ctx, metav1.ListOptions{LabelSelector: labelManagedBy + "=" + managedBy})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil && err.Error() != p.lastErr {
			p.logger.Warn("Leader election cannot read the Leases; leading what it holds, claiming nothing", zap.Error(err))
		}
		p.lastErr = err.Error()
		return
	}
	if p.lastErr != "" {
		p.logger.Info("Leader election reads the Leases again")
		p.lastErr = ""
	}
	now := time.Now()
	p.ticks++
	p.observe(list.Items, now)
	p.view = p.see(list.Items, now)
	p.act()
	p.broadcast()
	p.collect(list.Items)
}

// observe records when each Lease's holder or renewal changed; callers hold p.mu.
func (p *electionPod) observe(leases []coordinationv1.Lease, now time.Time) {
	listed := make(map[string]bool, len(leases))
	for i := range leases {
		l := &leases[i]
		listed[l.Name] = true
		holder, renew := holderOf(l), time.Time{}
		if l.Spec.RenewTime != nil {
			renew = l.Spec.RenewTime.Time
		}
		if s, ok := p.seen[l.Name]; !ok || s.holder != holder || !s.renew.Equal(renew) {
			p.seen[l.Name] = sighting{holder: holder, renew: renew, at: now}
		}
	}
	for name := range p.seen {
		if !listed[name] {
			delete(p.seen, name)
		}
	}
}

func holderOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// valid reports whether the Lease has a holder that renewed it within lease_duration; callers hold p.mu.
func (p *electionPod) valid(name string, now time.Time) bool {
	s, ok := p.seen[name]
	return ok && s.holder != "" && now.Sub(s.at) < p.cfg.LeaseDuration
}

// see builds the view from the listed Leases; callers hold p.mu.
func (p *electionPod) see(leases []coordinationv1.Lease, now time.Time) podView {
	v := podView{free: map[string]*coordinationv1.Lease{}, hint: map[string]string{}, heldBy: map[string]string{}}
	group, me := p.group(), p.key.identity
	others := map[string]int{}
	byName := map[string]*coordinationv1.Lease{}
	for i := range leases {
		l := &leases[i]
		byName[l.Name] = l
		if id := holderOf(l); l.Labels[labelRole] == roleMember && l.Annotations[annotationGroup] == group &&
			id != "" && id != me && p.valid(l.Name, now) {
			others[id] = 0
		}
	}
	for name, c := range p.cands {
		l := byName[name]
		if l != nil {
			if h := holderOf(l); h != "" && h != me && p.valid(name, now) {
				// Held by another pod, even where this one has just claimed it too and lost.
				v.heldBy[name] = h
				if _, ok := others[h]; ok {
					others[h]++
				}
				continue
			}
		}
		if c.state != idle {
			continue
		}
		// Free: never created, released, expired, or still naming this pod from before a restart.
		v.free[name] = l
		if l != nil && holderOf(l) == "" && now.Sub(p.seen[name].at) < p.cfg.LeaseDuration {
			if to := l.Annotations[annotationHandedTo]; to == me || hasKey(others, to) {
				v.hint[name] = to
			}
		}
	}
	v.spread = spread{self: me, tenants: len(p.cands), mine: p.mine(), others: others, free: len(v.free)}
	v.allotted = v.allotment()
	return v
}

func refOf[T any](v T) *T { return &v }

func hasKey(m map[string]int, k string) bool {
	_, ok := m[k]
	return ok
}

// act ends claims that lost a race and hands Leases over as the rules say; callers hold p.mu.
func (p *electionPod) act() {
	for name, c := range p.cands {
		if c.state == leading && !c.started.Load() && p.view.heldBy[name] != "" && c.cancelTerm != nil {
			c.cancelTerm() // another pod holds it: this elector would only wait
		}
	}
	if p.ticks < 2 || p.retiring {
		return
	}
	var led []*candidate
	for _, c := range p.cands {
		switch {
		case c.state == handingOver:
			return // one hand-over at a time: the next view shows where it went
		case c.state == leading && c.started.Load():
			led = append(led, c)
		}
	}
	to := p.view.handOver()
	if len(to) == 0 {
		return
	}
	// The newest terms go: the pollers that have run longest keep running.
	sort.Slice(led, func(i, j int) bool { return led[i].since.After(led[j].since) })
	for i, target := range to {
		if i >= len(led) {
			break
		}
		p.logger.Info("Handing a tenant over to even out leadership", zap.String("lease", led[i].lease),
			zap.String("to", target), zap.Int("held", p.view.mine), zap.Int("share", p.view.share()),
			zap.Int("pods", p.view.pods()), zap.Int("tenants", p.view.tenants))
		p.handOver(led[i], target)
	}
}

// group names the set of tenants this pod runs: pods count each other only when they run the same set
// (a DaemonSet whose configuration is rolling out forms two groups for a while); callers hold p.mu.
func (p *electionPod) group() string {
	names := make([]string, 0, len(p.cands))
	for n := range p.cands {
		names = append(names, n)
	}
	slices.Sort(names)
	h := fnv.New64a()
	_, _ = h.Write([]byte(strings.Join(names, "\x00")))
	return fmt.Sprintf("%016x", h.Sum64())
}

func memberLeaseName(identity string) string {
	return memberLeasePrefix + strings.ToLower(identity)
}

// renewMembership writes this pod's membership Lease: its identity, renewal and tenant set.
func (p *electionPod) renewMembership(ctx context.Context) error {
	p.mu.Lock()
	group := p.group()
	var m *coordinationv1.Lease
	if p.member != nil {
		m = p.member.DeepCopy()
	}
	p.mu.Unlock()
	leases := p.kube.Coordination.Leases(p.key.namespace)
	me := p.key.identity
	now := metav1.NowMicro()
	spec := coordinationv1.LeaseSpec{HolderIdentity: &me, RenewTime: &now,
		LeaseDurationSeconds: refOf(int32(math.Ceil(p.cfg.LeaseDuration.Seconds())))}
	var written *coordinationv1.Lease
	var err error
	if m == nil {
		m = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: memberLeaseName(me), Namespace: p.key.namespace,
			Labels: map[string]string{labelManagedBy: managedBy, labelRole: roleMember}}}
		m.Annotations = map[string]string{annotationGroup: group}
		m.Spec = spec
		written, err = leases.Create(ctx, m, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// Left by this pod before a restart.
			m, err = leases.Get(ctx, memberLeaseName(me), metav1.GetOptions{})
		}
	}
	if err == nil && written == nil {
		if m.Annotations == nil {
			m.Annotations = map[string]string{}
		}
		m.Annotations[annotationGroup] = group
		m.Spec = spec
		written, err = leases.Update(ctx, m, metav1.UpdateOptions{})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.member = nil // read again next time
		return fmt.Errorf("renewing membership Lease %s: %w", memberLeaseName(me), err)
	}
	p.member = written
	return nil
}

func (p *electionPod) deleteMembership() {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.RenewDeadline)
	defer cancel()
	err := p.kube.Coordination.Leases(p.key.namespace).Delete(ctx, memberLeaseName(p.key.identity), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		p.logger.Warn("Cannot delete this pod's membership Lease; the other pods count it out once it expired", zap.Error(err))
	}
}

// memberStaleAfter is how long a membership Lease goes unrenewed before any pod deletes it (a pod that
// crashed leaves one behind; DaemonSet pods get new names). Far longer than lease_duration, because here
// the renewal time written by another pod's clock is compared with this one's.
func (p *electionPod) memberStaleAfter() time.Duration {
	return max(10*p.cfg.LeaseDuration, 5*time.Minute)
}

// collect deletes membership Leases left by pods long gone; callers hold p.mu.
func (p *electionPod) collect(leases []coordinationv1.Lease) {
	if p.retiring {
		return
	}
	for i := range leases {
		l := &leases[i]
		if l.Labels[labelRole] != roleMember || holderOf(l) == p.key.identity || l.Spec.RenewTime == nil ||
			time.Since(l.Spec.RenewTime.Time) < p.memberStaleAfter() {
			continue
		}
		name, rv := l.Name, l.ResourceVersion
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), p.cfg.RenewDeadline)
			defer cancel()
			_ = p.kube.Coordination.Leases(p.key.namespace).Delete(ctx, name,
				metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
		}()
	}
}
