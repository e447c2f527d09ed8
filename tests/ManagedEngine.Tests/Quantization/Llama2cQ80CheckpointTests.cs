using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Quantization;
using MlPipelines.Tests.Support;
using static MlPipelines.ManagedEngine.Tests.Quantization.Q80Bytes;

namespace MlPipelines.ManagedEngine.Tests.Quantization;

public class Llama2cQ80CheckpointTests
{
    // dim 8 in groups of 8, hidden 12: w2 [8, 12] has groups straddling rows (12 mod 8 = 4).
    private static readonly Shape Small = new(8, 12, 2, 2, 1, 10, 4, Shared: true, GroupSize: 8);
    private static readonly Shape SmallUnshared = Small with { Shared = false };

    public static TheoryData<string, byte[], string[]> Cases()
    {
        long valid = Small.FileBytes;
        var rng = new Random(5);
        return new()
        {
            { "empty.bin", [], ["too short", "magic"] },
            { "bad-magic.bin", File(Small, rng)[..4].Concat(new byte[300]).ToArray().Also(b => b[0] = 0x33), ["magic = 0x616b3433", "ak42"] },
            { "legacy-v0.bin", Formats.CheckpointBytes.File(8, 12, 2, 2, 1, 10, 4), ["magic", "version-0"] },
            { "version-3.bin", Header(Small, version: 3), ["version = 3", "not 2"] },
            { "version-only.bin", Header(Small)[..8], ["shorter than the 256-byte", "header"] },
            { "short-header.bin", Header(Small)[..100], ["100 bytes", "256-byte"] },
            { "group-zero.bin", Header(Small, groupSize: 0), ["group_size = 0", "positive"] },
            { "group-negative.bin", Header(Small, groupSize: -64), ["group_size = -64"] },
            { "group-huge.bin", Header(Small, groupSize: 1 << 20), ["group_size = 1048576", "65536"] },
            { "group-not-dividing.bin", Header(Small, groupSize: 7), ["group_size = 7", "does not divide the 80 elements of token_embedding"] },
            { "shared-flag-2.bin", Header(Small, sharedFlag: 2), ["shared_classifier = 2"] },
            { "negative-vocab.bin", Header(Small with { Vocab = -10 }), ["vocab_size = -10", "positive"] },
            { "heads-not-dividing.bin", Header(Small with { Heads = 3 }), ["n_heads = 3", "does not divide dim = 8"] },
            { "one-byte-short.bin", File(Small, rng, -1), ["file length", (valid - 1).ToString(), valid.ToString(), "shorter", "group_size 8"] },
            { "one-byte-long.bin", File(Small, rng, 1), ["file length", (valid + 1).ToString(), "longer"] },
            { "header-only.bin", Header(Small), ["file length 256 bytes", valid.ToString()] },
            { "unshared-without-classifier.bin", File(Small, rng).Also(b => b[36] = 0), ["file length", "separate classifier", SmallUnshared.FileBytes.ToString()] },
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Load_RejectsMalformedFilesNamingFileAndField(string name, byte[] bytes, string[] expected)
    {
        using var dir = new TempDir();
        string path = dir.File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => Llama2cQ80Checkpoint.Load(path));
        Assert.Contains(name, ex.Message);
        foreach (string text in expected)
            Assert.Contains(text, ex.Message);
    }

    [Fact]
    public void Load_Version1IsNotSupported()
    {
        using var dir = new TempDir();
        string path = dir.File("v1.bin");
        System.IO.File.WriteAllBytes(path, Header(Small, version: 1));
        var ex = Assert.Throws<NotSupportedException>(() => Llama2cQ80Checkpoint.Load(path));
        Assert.Contains("version = 1", ex.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Load_PlacesEveryTensorWhereTheFormatSays(bool shared)
    {
        Shape s = shared ? Small : SmallUnshared;
        byte[] bytes = File(s, new Random(9));
        using var dir = new TempDir();
        string path = dir.File("small.bin");
        System.IO.File.WriteAllBytes(path, bytes);
        using var w = Llama2cQ80Checkpoint.Load(path);

        Assert.Equal((8, 12, 2, 2, 1, 10, 4, shared), (w.Config.Dim, w.Config.HiddenDim, w.Config.LayerCount, w.Config.HeadCount,
            w.Config.KvHeadCount, w.Config.VocabSize, w.Config.MaxSequenceLength, w.Config.SharedClassifier));
        Assert.Equal(8, w.GroupSize);
        Assert.Equal(1f, w.Layers[0].RmsAttention.Span[0]);
        Assert.Equal(1 + 2 * 8 / 1000f, w.Layers[0].RmsFfn.Span[0]);
        Assert.Equal(1 + 4 * 8 / 1000f, w.RmsFinal.Span[0]);

        // Walk the tensors in file order and compare each matrix's int8 values and scales with the bytes.
        long o = 256 + 4 * s.NormFloats;
        Func<QuantizedLayerWeights, Q8Matrix>[] order = [l => l.Wq, l => l.Wk, l => l.Wv, l => l.Wo, l => l.W1, l => l.W2, l => l.W3];
        long embeddingStart = o;
        if (shared)
            Assert.Equal(bytes.AsSpan((int)o, 80).ToArray().Select(b => (sbyte)b), w.Classifier.Values.ToArray());
        o += 80 + 4 * 10;
        foreach (var pick in order)
            foreach (var layer in w.Layers)
            {
                Q8Matrix m = pick(layer);
                int n = m.Rows * m.Cols;
                Assert.Equal(bytes.AsSpan((int)o, n).ToArray().Select(b => (sbyte)b), m.Values.ToArray());
                Assert.Equal(0.01f, m.Scales[0]);
                Assert.Equal(0.01f + (n / 8 - 1) / 1e5f, m.Scales[^1]);
                o += n + 4 * (n / 8);
            }
        Assert.True(w.Layers[0].W2.GroupsStraddleRows);
        if (!shared)
        {
            Assert.Equal(bytes.AsSpan((int)o, 80).ToArray().Select(b => (sbyte)b), w.Classifier.Values.ToArray());
            o += 80 + 40;
        }
        Assert.Equal(bytes.Length, o);

        // The fp32 embedding table is the dequantised first tensor.
        ReadOnlySpan<float> table = w.TokenEmbedding.Span;
        for (int i = 0; i < 80; i++)
            Assert.Equal((sbyte)bytes[embeddingStart + i] * (0.01f + i / 8 / 1e5f), table[i]);
    }
}

internal static class TestExtensions
{
    /// <summary>Applies <paramref name="change"/> to <paramref name="value"/> and returns it (for inline test data).</summary>
    public static T Also<T>(this T value, Action<T> change)
    {
        change(value);
        return value;
    }
}
