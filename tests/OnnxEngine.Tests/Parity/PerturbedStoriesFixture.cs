using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.Tests.Support;

namespace MlPipelines.OnnxEngine.Tests.Parity;

/// <summary>
/// stories260K with its final RMSNorm weights multiplied by seeded noise (±10 % per channel), exported
/// to ONNX. Per-channel rather than uniform scaling, so that the embeddings change direction (a
/// uniform scale would survive L2 normalisation) as well as the logits.
/// </summary>
public sealed class PerturbedStoriesFixture : IDisposable
{
    private readonly TempDir _dir = new();

    public PerturbedStoriesFixture()
    {
        CheckpointPath = _dir.File("perturbed.bin");
        byte[] bytes = File.ReadAllBytes(TestPaths.Stories260K);
        Perturb(bytes);
        File.WriteAllBytes(CheckpointPath, bytes);
        ExportDirectory = _dir.File("perturbed-onnx");
        using var weights = Llama2cCheckpoint.Load(CheckpointPath);
        OnnxExporter.Export(weights, ExportDirectory, new OnnxExportOptions { TokenizerPath = TestPaths.Tok512Bin });
    }

    public string CheckpointPath { get; }
    public string ExportDirectory { get; }

    /// <summary>Scales rms_final, located from the llama2.c header (see Llama2cLayout), in place.</summary>
    private static void Perturb(byte[] checkpoint)
    {
        Span<int> h = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(checkpoint.AsSpan(0, 28));
        long dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kvHeads = h[4], vocab = Math.Abs(h[5]);
        long kvDim = dim / heads * kvHeads;
        long rmsFinal = vocab * dim + layers * (dim + dim * dim + 2 * kvDim * dim + dim * dim + dim + 3 * hidden * dim);
        Span<float> weights = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(checkpoint.AsSpan(28));
        var rng = new Random(17);
        for (long i = 0; i < dim; i++)
            weights[(int)(rmsFinal + i)] *= 1f + 0.1f * (2f * rng.NextSingle() - 1f);
    }

    public void Dispose() => _dir.Dispose();
}
