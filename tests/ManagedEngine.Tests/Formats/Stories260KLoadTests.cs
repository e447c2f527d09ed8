using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats;

public class Stories260KLoadTests
{
    // stories260K: dim 64, hidden 172, 5 layers, 8 heads, 4 kv heads (kv_dim 32), vocab 512, seq 512.
    private const int Dim = 64, Hidden = 172, Layers = 5, KvDim = 32, Vocab = 512;

    // Offsets in floats after the header, spelled out from the format description.
    private const long Emb = 0;
    private const long RmsAtt = Emb + Vocab * Dim;
    private const long Wq = RmsAtt + Layers * Dim;
    private const long Wk = Wq + Layers * Dim * Dim;
    private const long Wv = Wk + Layers * KvDim * Dim;
    private const long Wo = Wv + Layers * KvDim * Dim;
    private const long RmsFfn = Wo + Layers * Dim * Dim;
    private const long W1 = RmsFfn + Layers * Dim;
    private const long W2 = W1 + Layers * Hidden * Dim;
    private const long W3 = W2 + Layers * Hidden * Dim;
    private const long RmsFinal = W3 + Layers * Hidden * Dim;

    [Fact]
    public void Load_ReadsTheHeaderIntoTheConfig()
    {
        using var w = Llama2cCheckpoint.Load(TestPaths.Stories260K);
        var c = w.Config;
        Assert.Equal((64, 172, 5, 8, 4, 512, 512), (c.Dim, c.HiddenDim, c.LayerCount, c.HeadCount, c.KvHeadCount, c.VocabSize, c.MaxSequenceLength));
        Assert.True(c.SharedClassifier);
        Assert.Equal((10000f, 1e-5f, 1, 2), (c.RopeTheta, c.NormEpsilon, c.BosId, c.EosId));
        Assert.Equal(TestPaths.Stories260K, w.Source);
        Assert.Equal(Layers, w.Layers.Count);
    }

    [Fact]
    public void Load_TensorsHaveTheShapesTheConfigImplies()
    {
        using var w = Llama2cCheckpoint.Load(TestPaths.Stories260K);
        Assert.Equal(Vocab * Dim, w.TokenEmbedding.Length);
        Assert.Equal(Vocab * Dim, w.Classifier.Length);
        Assert.Equal(Dim, w.RmsFinal.Length);
        foreach (var l in w.Layers)
        {
            Assert.Equal((Dim, Dim * Dim, KvDim * Dim, KvDim * Dim, Dim * Dim, Dim), (l.RmsAttention.Length, l.Wq.Length, l.Wk.Length, l.Wv.Length, l.Wo.Length, l.RmsFfn.Length));
            Assert.Equal((Hidden * Dim, Hidden * Dim, Hidden * Dim), (l.W1.Length, l.W2.Length, l.W3.Length));
        }
    }

    public static TheoryData<string, long, int, int> Probes => new()
    {
        // tensor, offset of the layer-0 block, elements per layer (or whole tensor), layer
        { "emb", Emb, Vocab * Dim, 0 },
        { "rms_att", RmsAtt, Dim, 0 }, { "rms_att", RmsAtt, Dim, 4 },
        { "wq", Wq, Dim * Dim, 0 }, { "wq", Wq, Dim * Dim, 4 },
        { "wk", Wk, KvDim * Dim, 1 }, { "wv", Wv, KvDim * Dim, 2 },
        { "wo", Wo, Dim * Dim, 3 }, { "rms_ffn", RmsFfn, Dim, 4 },
        { "w1", W1, Hidden * Dim, 0 }, { "w2", W2, Hidden * Dim, 2 }, { "w3", W3, Hidden * Dim, 4 },
        { "rms_final", RmsFinal, Dim, 0 },
    };

    [Theory]
    [MemberData(nameof(Probes))]
    public void Load_FirstAndLastElementsMatchTheFileAtTheirOffsets(string tensor, long blockOffset, int size, int layer)
    {
        using var w = Llama2cCheckpoint.Load(TestPaths.Stories260K);
        WeightTensor t = Select(w, tensor, layer);
        long start = blockOffset + (long)layer * size;
        Assert.Equal(CheckpointBytes.ReadFloat(TestPaths.Stories260K, start), t.Span[0]);
        Assert.Equal(CheckpointBytes.ReadFloat(TestPaths.Stories260K, start + size - 1), t.Span[^1]);
        Assert.Equal(CheckpointBytes.ReadFloat(TestPaths.Stories260K, start + size / 2), t.Span[size / 2]);
    }

    [Fact]
    public void Load_SharedClassifierIsTheEmbeddingTable()
    {
        using var w = Llama2cCheckpoint.Load(TestPaths.Stories260K);
        Assert.True(w.Classifier.Span == w.TokenEmbedding.Span); // same memory, not just equal values
    }

    [Fact]
    public void Load_RmsFinalIsTrainedAndTheFileEndsWithTheRopeTables()
    {
        using var w = Llama2cCheckpoint.Load(TestPaths.Stories260K);
        // Trained RMSNorm weights are not all 1, which catches an off-by-a-block offset into rms_ffn.
        Assert.Contains(w.RmsFinal.Span.ToArray(), x => x != 1f);
        // After rms_final come freq_cis_real then freq_cis_imag: cos(0) = 1 and sin(0) = 0 for position 0.
        long freq = RmsFinal + Dim;
        Assert.Equal(1f, CheckpointBytes.ReadFloat(TestPaths.Stories260K, freq));
        Assert.Equal(0f, CheckpointBytes.ReadFloat(TestPaths.Stories260K, freq + 512 * 4));
        Assert.Equal(new FileInfo(TestPaths.Stories260K).Length, 28 + 4 * (freq + 2 * 512 * 4));
    }

    [Fact]
    public void Load_Q80VersionTwoFileIsReportedAsUnsupported()
    {
        string path = Path.Combine(TestPaths.Models, "stories260K", "stories260K_q80.bin");
        var ex = Assert.Throws<NotSupportedException>(() => Llama2cCheckpoint.Load(path));
        Assert.Contains("stories260K_q80.bin", ex.Message);
        Assert.Contains("version-2", ex.Message);
        Assert.Contains("int8", ex.Message);
    }

    private static WeightTensor Select(LlamaWeights w, string tensor, int layer) => tensor switch
    {
        "emb" => w.TokenEmbedding,
        "rms_final" => w.RmsFinal,
        "rms_att" => w.Layers[layer].RmsAttention,
        "wq" => w.Layers[layer].Wq,
        "wk" => w.Layers[layer].Wk,
        "wv" => w.Layers[layer].Wv,
        "wo" => w.Layers[layer].Wo,
        "rms_ffn" => w.Layers[layer].RmsFfn,
        "w1" => w.Layers[layer].W1,
        "w2" => w.Layers[layer].W2,
        "w3" => w.Layers[layer].W3,
        _ => throw new ArgumentOutOfRangeException(nameof(tensor)),
    };
}
