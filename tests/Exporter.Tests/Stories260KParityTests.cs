using MlPipelines.Exporter.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.Exporter.Tests;

/// <summary>The exported stories260K computes the managed engine's logits (within 1e-4) through ONNX Runtime.</summary>
public sealed class Stories260KParityTests(Stories260KFixture fixture, ITestOutputHelper output) : IClassFixture<Stories260KFixture>
{
    private const float Tolerance = 1e-4f;

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public void PromptLogitsMatchManagedEngine(int length)
    {
        int[] tokens = Reference.Tokens(length, fixture.Model.Config.VocabSize, seed: length);
        DecoderStep step = fixture.Decoder.RunSequence(tokens);

        float logitDiff = Reference.MaxAbsDiff(Reference.AllLogits(fixture.Model, tokens), step.Logits);
        float hiddenDiff = Reference.MaxAbsDiff(Reference.Hidden(fixture.Model, tokens), step.Hidden);
        output.WriteLine($"{length} tokens: max |logit diff| {logitDiff:E2}, max |hidden diff| {hiddenDiff:E2}");
        Assert.InRange(logitDiff, 0, Tolerance);
        Assert.InRange(hiddenDiff, 0, Tolerance);
    }

    [Fact]
    public void IncrementalDecodeThroughKvCacheMatchesManagedEngine()
    {
        var c = fixture.Model.Config;
        using var session = fixture.Model.CreateTransformerSession();
        var expected = new float[c.VocabSize];
        int[] prompt = Reference.Tokens(5, c.VocabSize, seed: 11);

        // Prefill the prompt in one call, then 200 single-token steps feeding present → past.
        session.Forward(prompt, 0, expected);
        DecoderStep step = fixture.Decoder.RunSequence(prompt);
        float worst = Reference.MaxAbsDiff(expected, step.Logits.AsSpan((prompt.Length - 1) * c.VocabSize, c.VocabSize));
        int token = Reference.ArgMax(expected);
        for (int i = 0; i < 200; i++)
        {
            int position = prompt.Length + i;
            session.Forward([token], position, expected);
            step = fixture.Decoder.RunSequence([token], step);
            Assert.Equal(position + 1, step.TotalLength);
            worst = Math.Max(worst, Reference.MaxAbsDiff(expected, step.Logits));
            int next = Reference.ArgMax(expected);
            Assert.Equal(next, Reference.ArgMax(step.Logits));   // greedy paths identical
            token = next;
        }
        output.WriteLine($"205 positions incrementally: max |logit diff| {worst:E2}");
        Assert.InRange(worst, 0, Tolerance);
    }
}
