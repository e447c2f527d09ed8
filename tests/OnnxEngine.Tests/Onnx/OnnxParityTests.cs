using MlPipelines.ManagedEngine.Model;
using MlPipelines.OnnxEngine;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>The ONNX Runtime engine against the managed engine on the exported stories260K.</summary>
public class OnnxParityTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    // fp32 in both engines with different summation orders: observed differences are ~1e-6.
    private const float Tolerance = 1e-4f;

    private static int[] Prompt(int length, int seed)
    {
        var rng = new Random(seed);
        return [1, .. Enumerable.Range(0, length - 1).Select(_ => rng.Next(3, 512))];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public void Prompt_logits_match_the_managed_engine(int length)
    {
        int[] tokens = Prompt(length, length);
        float diff = LogitComparison.MaxAbsDiff(LogitComparison.AllLogits(f.Managed, tokens), LogitComparison.AllLogits(f.Onnx, tokens));
        Assert.True(diff <= Tolerance, $"max abs logit difference {diff} for a {length}-token prompt");
    }

    [Fact]
    public void Incremental_decode_through_the_cache_matches_at_every_step()
    {
        int vocab = f.Managed.Config.VocabSize;
        using var managed = f.Managed.CreateSession();
        using var onnx = f.Onnx.CreateSession();
        float[] a = new float[vocab], b = new float[vocab];
        int token = 1;
        float worst = 0;
        for (int pos = 0; pos < 200; pos++)
        {
            managed.Forward([token], pos, a);
            onnx.Forward([token], pos, b);
            worst = Math.Max(worst, LogitComparison.MaxAbsDiff(a, b));
            token = MlPipelines.ManagedEngine.Sampling.Sampler.ArgMax(a);
        }
        Assert.True(worst <= Tolerance, $"max abs logit difference {worst} over 200 decode steps");
        Assert.Equal(200, onnx.Position);
    }

    [Fact]
    public void Hidden_states_match_the_managed_engine()
    {
        int[] tokens = Prompt(9, 3);
        int dim = f.Managed.Config.Dim;
        float[] a = new float[tokens.Length * dim], b = new float[tokens.Length * dim];
        LogitComparison.AllLogits(f.Managed, tokens, a);
        LogitComparison.AllLogits(f.Onnx, tokens, b);
        Assert.True(LogitComparison.MaxAbsDiff(a, b) <= Tolerance);
    }

    [Fact]
    public void Rewinding_the_onnx_cache_recomputes_from_there()
    {
        int vocab = f.Onnx.Config.VocabSize;
        int[] tokens = Prompt(12, 5);
        using var session = f.Onnx.CreateSession();
        var reference = new float[tokens.Length * vocab];
        session.Forward(tokens, 0, reference);
        session.Forward([7, 8], tokens.Length, new float[vocab]);
        var replay = new float[(tokens.Length - 4) * vocab];
        session.Forward(tokens.AsSpan(4), 4, replay);
        Assert.True(LogitComparison.MaxAbsDiff(reference.AsSpan(4 * vocab), replay) <= 1e-6f);
    }

    [Theory]
    [InlineData(PaddingSide.Right)]
    [InlineData(PaddingSide.Left)]
    public void A_padded_batch_gives_each_row_the_logits_it_gets_alone(PaddingSide padding)
    {
        int[] shortPrompt = Prompt(5, 11), longPrompt = Prompt(13, 12);
        var batch = f.Onnx.ForwardBatch([shortPrompt, longPrompt], BatchOutputs.Logits | BatchOutputs.HiddenStates, padding);
        int vocab = f.Onnx.Config.VocabSize;
        foreach (var (row, prompt) in new[] { (0, shortPrompt), (1, longPrompt) })
        {
            float[] alone = LogitComparison.AllLogits(f.Onnx, prompt);
            for (int pos = 0; pos < prompt.Length; pos++)
            {
                float diff = LogitComparison.MaxAbsDiff(alone.AsSpan(pos * vocab, vocab), batch.Logits(row, pos));
                Assert.True(diff <= 1e-5f, $"row {row} position {pos}: {diff}");
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Logits(0, 5));   // padding is not a position
    }

    [Fact]
    public void Session_rejects_bad_arguments_like_the_managed_engine()
    {
        using var session = f.Onnx.CreateSession();
        int vocab = f.Onnx.Config.VocabSize;
        Assert.Throws<ArgumentException>(() => session.Forward([], 0, new float[vocab]));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward([1], 3, new float[vocab]));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Forward([vocab], 0, new float[vocab]));
        Assert.Throws<ArgumentException>(() => session.Forward([1, 2], 0, new float[vocab + 3]));
    }
}
