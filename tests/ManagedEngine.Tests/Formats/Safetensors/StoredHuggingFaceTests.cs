using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

/// <summary>
/// Hugging Face checkpoints with their matrices used as stored (F32, F16, BF16 from the mapping; q and k in Hugging Face's
/// row order, rotated as such) compute bit for bit what the widened, reordered weights compute — the reference path,
/// itself checked against llama2.c's run.c — in prefill and in decode, on one thread and on two.
/// </summary>
public class StoredHuggingFaceTests
{
    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (string dtype in new[] { "F32", "F16", "BF16" })
            foreach (int threads in new[] { 1, 2 })
                data.Add(dtype, threads, 0);
        data.Add("F16", 2, 1);   // 16-bit values at odd addresses: those matrices become fp32 copies
        data.Add("F32", 1, 2);   // floats off a 4-byte boundary: the same
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Stored_weights_give_the_widened_weights_logits_bit_for_bit(string dtype, int threads, int extraHeaderSpaces)
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, dtype == "F32" ? HfModelFiles.ReadStories260K() : HfModelFiles.Narrowed(dtype), extraHeaderSpaces: extraHeaderSpaces);
        using var widened = new TransformerModel(HuggingFaceCheckpoint.Load(tmp.Path), threads);
        using var stored = new TransformerModel(HuggingFaceCheckpoint.LoadStored(tmp.Path), threads);
        Assert.NotNull(stored.StoredWeights);
        Assert.Equal(widened.Config, stored.Config);

        int vocab = widened.Config.VocabSize;
        int[] prompt = HfRuns.Prompt;
        using var a = widened.CreateTransformerSession();
        using var b = stored.CreateTransformerSession();
        // Prefill the prompt but its last four tokens, then decode those one at a time.
        int prefill = prompt.Length - 4;
        var expected = new float[prefill * vocab];
        var actual = new float[prefill * vocab];
        a.Forward(prompt.AsSpan(0, prefill), 0, expected);
        b.Forward(prompt.AsSpan(0, prefill), 0, actual);
        Assert.Equal(HuggingFaceStories260KTests.Bits(expected), HuggingFaceStories260KTests.Bits(actual));
        for (int pos = prefill; pos < prompt.Length; pos++)
        {
            var e = new float[vocab];
            var g = new float[vocab];
            a.Forward(prompt.AsSpan(pos, 1), pos, e);
            b.Forward(prompt.AsSpan(pos, 1), pos, g);
            Assert.True(HuggingFaceStories260KTests.Bits(e).SequenceEqual(HuggingFaceStories260KTests.Bits(g)), $"decode at position {pos} differs");
        }
    }

    [Fact]
    public void The_loader_uses_Hugging_Face_weights_as_stored()
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, HfModelFiles.Narrowed("BF16"));
        using TransformerModel model = ManagedModelLoader.LoadModel(tmp.Path, threads: 1);
        Assert.NotNull(model.StoredWeights);
        Assert.Equal("BF16", model.Description.Precision);
        using TransformerModel quantised = ManagedModelLoader.LoadModel(tmp.Path, threads: 1, quantize: true);
        Assert.Null(quantised.StoredWeights);
    }

    [Fact]
    public void Rotating_halves_into_pairs_equals_reordering_then_rotating()
    {
        var rope = new RopeTable(headDim: 16, maxPositions: 64, theta: 10000f);
        var random = new Random(5);
        float[] meta = [.. Enumerable.Range(0, 48).Select(_ => (float)(random.NextDouble() * 4 - 2))];   // three heads
        // Hugging Face's order of the same vector: within each head, element 2j at j and 2j + 1 at 8 + j.
        var hf = new float[meta.Length];
        for (int head = 0; head < 3; head++)
            for (int j = 0; j < 8; j++)
            {
                hf[head * 16 + j] = meta[head * 16 + 2 * j];
                hf[head * 16 + 8 + j] = meta[head * 16 + 2 * j + 1];
            }
        foreach (int position in new[] { 0, 1, 37, 63 })
        {
            float[] expected = [.. meta], actual = [.. hf];
            rope.Rotate(expected, position);
            rope.RotateHalvesIntoPairs(actual, position);
            Assert.Equal(HuggingFaceStories260KTests.Bits(expected), HuggingFaceStories260KTests.Bits(actual));
        }
    }
}
