using MlPipelines.Exporter.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.Exporter.Tests;

/// <summary>
/// A batch of two prompts of different lengths, padded right or left, gives every row the logits
/// that row gets alone — for the prompt and for a decode step after it — when the caller passes
/// an attention mask with zeros on pads and position ids counting real tokens.
/// </summary>
public sealed class PaddedBatchTests(Stories260KFixture fixture, ITestOutputHelper output) : IClassFixture<Stories260KFixture>
{
    private const float Tolerance = 1e-4f;
    private const int Pad = 0;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EachRowMatchesItsUnpaddedRun(bool leftPadding)
    {
        var c = fixture.Model.Config;
        int vocab = c.VocabSize;
        int[][] prompts = [Reference.Tokens(5, vocab, seed: 21), Reference.Tokens(9, vocab, seed: 22)];
        int width = prompts.Max(p => p.Length);

        // Prefill: both rows in one call.
        var ids = new long[2 * width];
        var mask = new long[2 * width];
        var positions = new long[2 * width];
        for (int r = 0; r < 2; r++)
        {
            int pads = width - prompts[r].Length, offset = leftPadding ? pads : 0;
            for (int s = 0; s < width; s++)
            {
                int i = s - offset;
                bool real = i >= 0 && i < prompts[r].Length;
                ids[r * width + s] = real ? prompts[r][i] : Pad;
                mask[r * width + s] = real ? 1 : 0;
                // Positions count real tokens (as cumsum(mask) - 1); pads get any valid position.
                positions[r * width + s] = Math.Max(i, 0);
            }
        }
        DecoderStep batch = fixture.Decoder.Run(2, ids, mask, positions);
        Assert.All(batch.Logits, v => Assert.True(float.IsFinite(v)));

        float worst = 0;
        var sessions = new List<ManagedEngine.Inference.TransformerSession>();
        var nextTokens = new int[2];
        for (int r = 0; r < 2; r++)
        {
            int n = prompts[r].Length, offset = leftPadding ? width - n : 0;
            var session = fixture.Model.CreateTransformerSession();
            sessions.Add(session);
            var expected = new float[n * vocab];
            session.Forward(prompts[r], 0, n == 1 ? expected.AsSpan(0, vocab) : expected);
            worst = Math.Max(worst, Reference.MaxAbsDiff(expected, batch.Logits.AsSpan((r * width + offset) * vocab, n * vocab)));
            nextTokens[r] = Reference.ArgMax(expected.AsSpan((n - 1) * vocab, vocab));
        }

        // One decode step for both rows, the past still holding the pads (masked out).
        var stepMask = new long[2 * (width + 1)];
        for (int r = 0; r < 2; r++)
        {
            for (int t = 0; t < width; t++) stepMask[r * (width + 1) + t] = mask[r * width + t];
            stepMask[r * (width + 1) + width] = 1;
        }
        long[] stepPositions = [prompts[0].Length, prompts[1].Length];
        DecoderStep step = fixture.Decoder.Run(2, [nextTokens[0], nextTokens[1]], stepMask, stepPositions, batch);
        for (int r = 0; r < 2; r++)
        {
            var expected = new float[vocab];
            sessions[r].Forward([nextTokens[r]], prompts[r].Length, expected);
            worst = Math.Max(worst, Reference.MaxAbsDiff(expected, step.Logits.AsSpan(r * vocab, vocab)));
            sessions[r].Dispose();
        }

        output.WriteLine($"{(leftPadding ? "left" : "right")} padding: max |logit diff| {worst:E2}");
        Assert.InRange(worst, 0, Tolerance);
    }
}
