// Package fault wraps a storage.Storage with programmable failures, for
// tests of code that must survive misbehaving backends.
//
// A *Storage forwards every call to the storage it wraps, except where a
// rule says otherwise. Rules are added with FailOn (fail before the call
// reaches the inner storage; a failed Put first reads its body, as an upload
// cut off at the end would), FailAfter (the call takes effect, then fails:
// a lost reply), Corrupt and Truncate (damage what a Get returns), Delay and
// Blackhole (slow or hung requests, both honouring the context). Each rule
// matches one operation and a set of names (List matches its prefix); a nil
// match matches every name. Rules fire in the order they were added; a rule
// fires at most Times(n) times in total, or per distinct name after
// PerName(). With no rules, a Storage behaves exactly like the one it wraps
// (it passes storagetest.Run).
//
// Examples:
//
//	f := fault.New(mem.New())
//	// every Put fails with a transient error twice, then succeeds
//	f.FailOn(fault.OpPut, nil, storage.MarkTransient(fault.ErrInjected), 2).PerName()
//	// this pack returns corrupted bytes
//	f.Corrupt(fault.Exact("data/ab/ab12"))
//	// the first Get of any index file is cut short after 10 bytes
//	f.Truncate(fault.Prefix("index/"), 10).Times(1)
//
// Capabilities are the inner storage's, a region set's
// Capabilities().Regions included: rules apply to the calls made on the
// Storage itself, not to a region set's per-region operations (Replicas,
// Region, Repair, PutOnly, ListUnion), which reach the set directly. To
// make one region misbehave, wrap that region's storage before building
// the set.
//
// Injected errors are wrapped with the operation and name; errors.Is sees
// the error given to the rule. Calls(op) counts every call of op, faulty or
// not. All methods are safe for concurrent use.
package fault
