namespace MlPipelines.Fuzz.Tests;

/// <summary>The harness itself: mutants are reproducible, and each kind of contract violation is caught.</summary>
public class HarnessTests(SeedFilesFixture f) : IClassFixture<SeedFilesFixture>
{
    /// <summary>A target whose behaviour each test chooses.</summary>
    private sealed class ScriptedTarget(Action<byte[], ScratchDirectory> run) : FuzzTarget
    {
        public override string Name => "scripted";
        public override string EntryPoint => "a test";
        public override IReadOnlyList<byte[]> CreateSeeds(SeedFiles seeds) => [[1, 2, 3, 4, 5, 6, 7, 8]];
        public override void Run(byte[] input, ScratchDirectory scratch) => run(input, scratch);
    }

    private FuzzResult RunScripted(Action<byte[], ScratchDirectory> run, int inputs = 20) =>
        FuzzRunner.Run(new ScriptedTarget(run), f.Seeds, new FuzzOptions { Inputs = inputs, HangLimit = TimeSpan.FromMilliseconds(200) });

    [Fact]
    public void The_same_seed_and_input_number_give_the_same_mutant_and_others_differ()
    {
        FuzzTarget target = FuzzTargets.Get("llama2c");
        var seeds = target.CreateSeeds(f.Seeds);
        var a = new Mutator(target, seeds);
        var b = new Mutator(target, seeds);
        Assert.Equal(a.Mutant(5, 123), b.Mutant(5, 123));
        var distinct = Enumerable.Range(1, 40).Select(i => Convert.ToBase64String(a.Mutant(5, i))).Distinct().Count();
        Assert.True(distinct > 30, $"only {distinct} distinct mutants of 40");
    }

    [Fact]
    public void An_allowed_exception_naming_the_file_is_a_rejection()
    {
        FuzzResult r = RunScripted((_, s) => throw new InvalidDataException($"{s.File("x")}: bad"));
        Assert.Empty(r.Violations);
        Assert.Equal(20, r.Rejected);
    }

    [Fact]
    public void Another_exception_type_is_a_violation()
    {
        FuzzResult r = RunScripted((_, _) => throw new IndexOutOfRangeException("boom"));
        Assert.Contains("IndexOutOfRangeException", Assert.Single(r.Violations).Detail);
    }

    [Fact]
    public void A_message_that_does_not_name_the_file_is_a_violation()
    {
        FuzzResult r = RunScripted((_, _) => throw new InvalidDataException("bad header"));
        Assert.Contains("does not name the file", Assert.Single(r.Violations).Detail);
    }

    [Fact]
    public void An_allocation_far_larger_than_the_input_is_a_violation()
    {
        FuzzResult r = RunScripted((input, _) => GC.KeepAlive(new byte[FuzzContract.AllocationSlackBytes + 1024 * 1024]), inputs: 2);
        Assert.StartsWith("allocation", Assert.Single(r.Violations).Signature);
    }

    [Fact]
    public void An_input_that_runs_past_the_hang_limit_is_a_violation()
    {
        FuzzResult r = RunScripted((_, _) => Thread.Sleep(Timeout.Infinite), inputs: 1);
        Assert.Equal("hang", Assert.Single(r.Violations).Signature);
    }

    [Fact]
    public void The_minimiser_keeps_the_violation_and_drops_what_does_not_matter()
    {
        // Breaks the contract whenever the input holds the byte 0x42.
        var target = new ScriptedTarget((input, _) => { if (input.Contains((byte)0x42)) throw new NullReferenceException(); });
        byte[] input = [.. Enumerable.Range(0, 300).Select(i => (byte)(i == 77 ? 0x42 : 0))];
        Assert.Equal(new byte[] { 0x42 }, Minimizer.Minimize(target, f.Seeds, input));
    }

    [Fact]
    public void Under_libFuzzer_a_breach_is_thrown_and_an_allowed_refusal_is_not()
    {
        // What SharpFuzz reports to libFuzzer as a crash is an exception escaping LibFuzzerMode.Check.
        using var scratch = new ScratchDirectory("libfuzzer-check");
        var refuses = new ScriptedTarget((_, s) => throw new InvalidDataException($"{s.File("x")}: bad"));
        LibFuzzerMode.Check(refuses, [1, 2, 3], scratch, TimeSpan.FromSeconds(10));

        var breaks = new ScriptedTarget((_, _) => throw new IndexOutOfRangeException("boom"));
        var e = Assert.Throws<LibFuzzerMode.ContractViolationException>(() => LibFuzzerMode.Check(breaks, [1, 2, 3], scratch, TimeSpan.FromSeconds(10)));
        Assert.Contains("IndexOutOfRangeException", e.Message);
        Assert.IsType<IndexOutOfRangeException>(e.InnerException);

        var allocates = new ScriptedTarget((_, _) => GC.KeepAlive(new byte[FuzzContract.AllocationSlackBytes + 1024 * 1024]));
        e = Assert.Throws<LibFuzzerMode.ContractViolationException>(() => LibFuzzerMode.Check(allocates, [1, 2, 3], scratch, TimeSpan.FromSeconds(10)));
        Assert.Contains("allocation", e.Message);
    }

    [Fact]
    public void An_input_slow_on_processor_time_twice_is_a_breach()
    {
        using var scratch = new ScratchDirectory("slow-check");
        var spins = new ScriptedTarget((_, _) => { var w = System.Diagnostics.Stopwatch.StartNew(); while (w.ElapsedMilliseconds < 150) { } });
        InputOutcome outcome = InputCheck.Run(spins, [1], scratch, TimeSpan.FromMilliseconds(20));
        Assert.Equal("slow", Assert.Single(outcome.Breaches).Kind);
        Assert.True(outcome.Loaded);
    }
}
