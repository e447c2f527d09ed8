// The contract's allocation check reads the process's allocation counter, so the tests run one at a time: another
// test allocating in parallel would be counted against the input under test.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
