using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Parity;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.OnnxEngine;
using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.OnnxEngine.Tests.Parity;

/// <summary>The parity harness on stories260K: managed against ONNX, against itself, and against controlled disagreements.</summary>
public class ParityHarnessTests(ExportedStoriesFixture f, ITestOutputHelper output) : IClassFixture<ExportedStoriesFixture>
{
    // Varied on purpose: empty (BOS only), short, long, punctuation, and non-ASCII text spelled with byte-fallback tokens.
    internal static readonly string[] Prompts =
    [
        "Once upon a time",
        "",
        "Lily and Tom went to the park to play with their big red ball, but it started to rain.",
        "\"Why?\" asked the little dog.",
        "Mia saw a café with a 🌟 on the door",
    ];

    private static readonly PieceTokenizer Tokenizer = TokenizerLoader.Load(TestPaths.Tok512Bin, 512);

    [Fact]
    public void Managed_and_onnx_engines_agree_on_stories260K()
    {
        ParityReport report = ParityHarness.Compare(f.Managed, f.Onnx, Tokenizer, Prompts, new ParityOptions());
        output.WriteLine($"max |Δlogit| {report.MaxAbsLogitDiff:G3}, mean {report.MeanAbsLogitDiff:G3}, top-1 {report.Top1Agreement:P2}, " +
            $"min cosine {report.MinCosine:R}, {report.Elapsed.TotalSeconds:F2} s");

        Assert.True(report.Passed, string.Join("; ", report.Failures));
        Assert.InRange(report.MaxAbsLogitDiff, 0, 1e-4);
        Assert.True(report.MinCosine >= 0.99999, $"min cosine {report.MinCosine}");
        Assert.Equal(1.0, report.Top1Agreement);
        Assert.Equal(Prompts.Length, report.Prompts.Count);
        foreach (PromptParity p in report.Prompts)
        {
            Assert.Equal(200, p.Continuation.Length);
            Assert.True(p.Continuation.Identical, p.ComparisonNote);
            Assert.Equal(p.Continuation.TokensA, p.Continuation.TokensB);
            Assert.Equal(p.TokenCount, p.PromptLogits.Positions);
            Assert.Equal(199, p.ContinuationLogits.Positions);   // the first token comes from the last prompt position
        }
        // Different summation orders: not bit-identical, which shows the comparison really compares.
        Assert.True(report.MaxAbsLogitDiff > 0);
    }

    [Fact]
    public void A_model_compared_with_itself_differs_by_exactly_nothing_whatever_the_thread_count()
    {
        // Same weights at one thread against the fixture's default (one per processor).
        using var singleThreaded = new TransformerModel(Llama2cCheckpoint.Load(TestPaths.Stories260K), threads: 1);
        ParityReport report = ParityHarness.Compare(f.Managed, singleThreaded, Tokenizer, Prompts, new ParityOptions { Steps = 64 });

        Assert.True(report.Passed);
        Assert.Equal(0.0, report.MaxAbsLogitDiff);
        Assert.Equal(0.0, report.MeanAbsLogitDiff);
        Assert.Equal(1.0, report.Top1Agreement);
        Assert.All(report.Prompts, p => Assert.Equal(1.0, p.EmbeddingCosine));
        Assert.All(report.Prompts, p => Assert.True(p.Continuation.Identical));
    }

    [Theory]
    [InlineData(0)]    // the last prompt position already disagrees
    [InlineData(7)]
    [InlineData(150)]
    public void Continuations_are_compared_only_until_they_diverge(int divergence)
    {
        string[] prompt = ["Once upon a time"];
        int start = Tokenizer.Encode(prompt[0], addBos: true, addEos: false).Length;
        var reference = ParityHarness.Compare(f.Managed, f.Managed, Tokenizer, prompt).Prompts[0].Continuation.TokensA;
        int forced = (reference[divergence] + 1) % 512;
        // The logits at position start + divergence - 1 choose continuation token `divergence`.
        using var biased = new BiasedModel(f.Managed, start + divergence - 1, forced, bias: 1000f);

        PromptParity p = ParityHarness.Compare(f.Managed, biased, Tokenizer, prompt).Prompts[0];

        Assert.Equal(divergence, p.Continuation.FirstDivergence);
        Assert.Equal(reference, p.Continuation.TokensA);
        Assert.Equal(reference[..divergence], p.Continuation.TokensB[..divergence]);
        Assert.Equal(forced, p.Continuation.TokensB[divergence]);
        Assert.Equal(200, p.Continuation.TokensB.Length);   // B goes on with its own tokens
        // Steps compared: those fed the common tokens 0 .. divergence-1, the last of which disagrees.
        Assert.Equal(divergence, p.ContinuationLogits.Positions);
        Assert.Equal(Math.Max(divergence - 1, 0), p.ContinuationLogits.Top1Matches);
        Assert.Equal(1000.0, p.MaxAbsLogitDiff, 1e-3);
        Assert.Contains(divergence == 0 ? "diverge at the first token" : $"diverge at token {divergence}", p.ComparisonNote);
    }

    [Fact]
    public void The_verdict_names_each_figure_that_fails()
    {
        using var biased = new BiasedModel(f.Managed, 10, 3, bias: 1000f);
        ParityReport report = ParityHarness.Compare(f.Managed, biased, Tokenizer, Prompts, new ParityOptions { Steps = 40, MinCosine = 1.0 });

        Assert.False(report.Passed);
        Assert.False(report.LogitsWithinTolerance);
        Assert.False(report.GreedyIdentical);
        Assert.True(report.CosineWithinTolerance);   // the bias touches logits only; embeddings are identical
        Assert.Equal(2, report.Failures.Count);
        Assert.Contains(report.Failures, r => r.StartsWith("max |Δlogit| 1E+03 exceeds 0.0001", StringComparison.Ordinal));
        Assert.Contains(report.Failures, r => r.StartsWith("greedy continuations differ", StringComparison.Ordinal));

        var lenient = ParityHarness.Compare(f.Managed, biased, Tokenizer, Prompts,
            new ParityOptions { Steps = 40, MaxAbsLogitDiff = 2000, RequireIdenticalGreedy = false });
        Assert.True(lenient.Passed, string.Join("; ", lenient.Failures));
    }

    [Fact]
    public void Steps_are_capped_by_the_context()
    {
        ParityReport report = ParityHarness.Compare(f.Managed, f.Managed, Tokenizer, ["Once upon a time"], new ParityOptions { Steps = 0 });
        PromptParity p = report.Prompts[0];
        Assert.Equal(f.Managed.Config.MaxSequenceLength - p.TokenCount, p.Continuation.Length);
        Assert.Equal(p.Continuation.Length - 1, p.ContinuationLogits.Positions);
    }

    [Fact]
    public void The_decode_loop_does_not_allocate_per_step()
    {
        int vocab = f.Managed.Config.VocabSize;
        long Measure(int steps)
        {
            using var a = f.Managed.CreateSession();
            using var b = f.Managed.CreateSession();
            var logits = new float[vocab];
            a.Forward([1], 0, logits);
            b.Forward([1], 0, logits);
            var diff = new LogitDiffAccumulator();
            long before = GC.GetAllocatedBytesForCurrentThread();
            ParityHarness.Continue(a, b, logits, logits, 1, steps, ref diff, CancellationToken.None);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Measure(220);   // warm up (JIT, including on-stack replacement of the loop)
        // The least of three runs of each length: a one-time allocation (a lazily built static, a tier-up
        // on this thread while other test classes run) lands in one run; a per-step one shows in all of them.
        long shortRun = Enumerable.Range(0, 3).Min(_ => Measure(20)), longRun = Enumerable.Range(0, 3).Min(_ => Measure(220));
        double perStep = (longRun - shortRun) / 200.0;
        output.WriteLine($"{shortRun} bytes for 20 steps, {longRun} for 220: {perStep:F1} bytes per step");
        // Only the two token-id arrays grow with the steps (2 x 4 bytes per step); the loop itself allocates nothing.
        Assert.InRange(perStep, 0, 8.5);
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_a_reason()
    {
        Assert.Throws<ArgumentException>(() => ParityHarness.Compare(f.Managed, f.Onnx, Tokenizer, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => ParityHarness.Compare(f.Managed, f.Onnx, Tokenizer, Prompts, new ParityOptions { Steps = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ParityHarness.Compare(f.Managed, f.Onnx, Tokenizer, Prompts, new ParityOptions { MinCosine = 2 }));
        var tooLong = ParityHarness_TooLongPrompt();
        var e = Assert.Throws<ArgumentException>(() => ParityHarness.Compare(f.Managed, f.Onnx, Tokenizer, ["a", tooLong]));
        Assert.Contains("Prompt 1", e.Message);
    }

    private static string ParityHarness_TooLongPrompt() => string.Concat(Enumerable.Repeat("Once upon a time there was a dog. ", 100));

    [Fact]
    public void The_report_serialises_to_json_with_the_verdict()
    {
        ParityReport report = ParityHarness.Compare(f.Managed, f.Onnx, Tokenizer, Prompts[..2], new ParityOptions { Steps = 10 });
        using var json = System.Text.Json.JsonDocument.Parse(report.ToJson());
        var root = json.RootElement;
        Assert.True(root.GetProperty("passed").GetBoolean());
        Assert.Equal(0, root.GetProperty("failures").GetArrayLength());
        Assert.Equal(2, root.GetProperty("prompts").GetArrayLength());
        Assert.Equal(report.MaxAbsLogitDiff, root.GetProperty("maxAbsLogitDiff").GetDouble());
        Assert.Equal(10, root.GetProperty("prompts")[0].GetProperty("continuation").GetProperty("length").GetInt32());
        Assert.Equal("Mean", root.GetProperty("options").GetProperty("embedding").GetProperty("pooling").GetString());
    }
}
