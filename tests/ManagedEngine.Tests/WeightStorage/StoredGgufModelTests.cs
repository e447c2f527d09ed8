using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.WeightStorage;
using MlPipelines.ManagedEngine.Tests.Inference;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.WeightStorage;

/// <summary>
/// GGUF models run with their matrices as stored: fp16 gives exactly what the fp32 kernels give on the widened weights;
/// block formats stay within activation-quantisation error of the dequantised fp32 model; prefill equals decode and
/// thread counts do not matter.
/// </summary>
public class StoredGgufModelTests
{
    private static readonly ModelConfig Shape = new()
    {
        Dim = 64, HiddenDim = 128, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, VocabSize = 96, MaxSequenceLength = 64,
        SharedClassifier = false,
    };

    private static readonly int[] Tokens = [1, 17, 50, 3, 90, 42, 42, 7, 60, 11, 2, 33, 75, 19];

    // Rows of 256, so the k-quants are used rather than their fallbacks.
    private static readonly ModelConfig WideShape = Shape with { Dim = 256, HiddenDim = 512, HeadCount = 4, KvHeadCount = 1 };

    private static string Write(TempDir dir, GgufQuantization quantization, ModelConfig? shape = null)
    {
        string path = dir.File($"m-{quantization}.gguf");
        GgufCheckpointWriter.WriteRandom(path, shape ?? Shape, seed: 7, new GgufWriteOptions { Quantization = quantization });
        return path;
    }

    private static float[] Logits(TransformerModel model, int threads = 0, bool oneAtATime = false) =>
        SessionLogits.Of(model, Tokens, threads, oneAtATime);

    [Theory]
    [InlineData(GgufQuantization.F16)]
    [InlineData(GgufQuantization.BF16)]
    public void Half_precision_used_in_place_computes_what_fp32_computes_on_the_widened_weights(GgufQuantization type)
    {
        using var dir = new TempDir();
        string path = Write(dir, type);
        using var stored = new TransformerModel(GgufCheckpoint.LoadStored(path));
        using var widened = new TransformerModel(GgufCheckpoint.Load(path));
        Assert.Equal(type.ToString(), stored.Description.Precision);
        Assert.Equal(Logits(widened), Logits(stored));
        Assert.Equal(Logits(stored), Logits(stored, oneAtATime: true));
    }

    [Theory]
    [InlineData(GgufQuantization.Q8_0, false, 0.02, "Q8_0")]
    [InlineData(GgufQuantization.Q4_0, false, 0.02, "Q4_0, Q8_0")]                // rows of 64: the classifier falls back to Q8_0
    [InlineData(GgufQuantization.Q4_K_M, false, 0.02, "Q5_0, Q8_0")]              // k-quant fallbacks for rows of 64
    [InlineData(GgufQuantization.Q4_K_M, true, 0.02, "Q4_K, Q6_K")]
    [InlineData(GgufQuantization.Q4_0, true, 0.02, "Q4_0, Q6_K")]
    public void Block_formats_stay_within_activation_quantisation_error_and_decode_equals_prefill(GgufQuantization type, bool wide,
        double bound, string formats)
    {
        using var dir = new TempDir();
        string path = Write(dir, type, wide ? WideShape : Shape);
        using var stored = new TransformerModel(GgufCheckpoint.LoadStored(path));
        using var dequantised = new TransformerModel(GgufCheckpoint.Load(path));
        // The formats llama.cpp's choices give, largest share first ("mixed (Q4_K 62%, Q6_K 38%)").
        string precision = stored.Description.Precision;
        Assert.Equal(formats, precision.StartsWith("mixed (", StringComparison.Ordinal)
            ? string.Join(", ", precision[7..^1].Split(", ").Select(part => part.Split(' ')[0])) : precision);
        float[] actual = Logits(stored, threads: 1), reference = Logits(dequantised);
        double scale = reference.Max(Math.Abs);
        Assert.InRange(actual.Zip(reference).Max(p => Math.Abs(p.First - p.Second)) / scale, 1e-9, bound);   // close, and not the fp32 path
        Assert.Equal(actual, Logits(stored, threads: 2));
        Assert.Equal(actual, Logits(stored, threads: 2, oneAtATime: true));
    }

    [Theory]
    [InlineData(GgufQuantization.Q4_0, "Q4_0")]      // the classifier too (else Q6_K)
    [InlineData(GgufQuantization.Q4_K_M, "Q4_K")]    // no Q6_K layers or classifier
    public void A_pure_file_stores_every_matrix_in_the_presets_type(GgufQuantization type, string format)
    {
        using var dir = new TempDir();
        string path = dir.File("pure.gguf");
        GgufCheckpointWriter.WriteRandom(path, WideShape, seed: 7, new GgufWriteOptions { Quantization = type, Pure = true });
        using var stored = new TransformerModel(GgufCheckpoint.LoadStored(path));
        Assert.Equal(format, stored.Description.Precision);
    }

    [Theory]
    [InlineData(GgufQuantization.Q4_K_M, KvCacheFormat.F16)]
    [InlineData(GgufQuantization.Q4_0, KvCacheFormat.F32)]
    [InlineData(GgufQuantization.F16, KvCacheFormat.F32)]
    public void Steady_state_decoding_allocates_nothing(GgufQuantization type, KvCacheFormat kvCache)
    {
        using var dir = new TempDir();
        string path = Write(dir, type, WideShape);
        using var model = new TransformerModel(GgufCheckpoint.LoadStored(path), threads: 1) { KvCache = kvCache };
        using var session = model.CreateSession();
        var logits = new float[model.Config.VocabSize];
        session.Forward([1, 2, 3], 0, logits);   // warm up: JIT, the quantised-activation buffers
        session.Forward([4], 3, logits);
        // Windows of 18 tokens (positions 4..57 of the 64): none may allocate per token.
        Assert.Equal(0, Allocations.FewestBytes(i => session.Forward([(i + 4) % 90 + 3], i + 4, logits), steps: 18));
    }
}
