using System.Runtime.InteropServices;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Quantization.Ggml;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Quantization;

/// <summary>
/// The golden vectors ggml produced (see GgmlData/README.md for their provenance and byte layout): inputs,
/// activations with their Q8_0 / Q8_1 / Q8_K quantisations, and per weight format the quantised rows,
/// dequantised values and dot products.
/// </summary>
internal static class GgmlGoldenData
{
    /// <summary>The folder holding the files.</summary>
    public static string Folder => Path.Combine(TestPaths.RepoRoot, "tests", "ManagedEngine.Tests", "Quantization", "GgmlData");

    /// <summary>What each weight input row is, in file order (for failure messages).</summary>
    public static readonly string[] WeightRowKinds =
    [
        "normal", "uniform", "normal sigma 0.02", "zero blocks", "tiny magnitudes", "outliers",
        "negative only", "positive offset", "constants and ties", "large values", "heavy tail", "sparse",
    ];

    /// <summary>The weight input rows (fp32), <c>[row][i]</c>.</summary>
    public static float[][] Inputs => inputs.Value;

    /// <summary>The activation rows and their reference quantisations.</summary>
    public static GoldenActivations Activations => activations.Value;

    private static readonly Lazy<float[][]> inputs = new(() =>
    {
        using var r = Open("inputs.bin");
        int rows = r.ReadInt32(), n = r.ReadInt32();
        return ReadRows(r, rows, n);
    });

    private static readonly Lazy<GoldenActivations> activations = new(() =>
    {
        using var r = Open("activations.bin");
        int rows = r.ReadInt32(), n = r.ReadInt32();
        float[][] values = ReadRows(r, rows, n);
        byte[][] Bytes(int rowBytes) => Enumerable.Range(0, rows).Select(_ => r.ReadBytes(rowBytes)).ToArray();
        byte[][] q8_0 = Bytes(n / 32 * 34), q8_1 = Bytes(n / 32 * 36), q8_K = Bytes(n / 256 * 292);
        return new GoldenActivations(values, q8_0, q8_1, q8_K);
    });

    /// <summary>The golden file of weight format <paramref name="type"/>.</summary>
    public static GoldenWeights Weights(GgufTensorType type)
    {
        using var r = Open(type.ToString().ToLowerInvariant() + ".bin");
        var fileType = (GgufTensorType)r.ReadInt32();
        int rows = r.ReadInt32(), n = r.ReadInt32(), rowBytes = r.ReadInt32();
        Assert.Equal(type, fileType);
        byte[][] quantized = Enumerable.Range(0, rows).Select(_ => r.ReadBytes(rowBytes)).ToArray();
        float[][] dequantized = ReadRows(r, rows, n);
        int activationRows = Activations.Values.Length;
        float[][] scalarDots = ReadRows(r, rows, activationRows);
        float[][] simdDots = ReadRows(r, rows, activationRows);
        int blocks = n / GgmlBlockLayouts.Get(type).Elements;
        float[][][] blockDots = Enumerable.Range(0, rows).Select(_ => ReadRows(r, activationRows, blocks)).ToArray();
        return new GoldenWeights(type, n, rowBytes, quantized, dequantized, scalarDots, simdDots, blockDots);
    }

    private static BinaryReader Open(string name) => new(File.OpenRead(Path.Combine(Folder, name)));

    private static float[][] ReadRows(BinaryReader r, int rows, int n) =>
        Enumerable.Range(0, rows).Select(_ => MemoryMarshal.Cast<byte, float>(r.ReadBytes(n * 4)).ToArray()).ToArray();
}

/// <summary>Activation rows and ggml's reference quantisation of each to Q8_0, Q8_1 and Q8_K.</summary>
internal sealed record GoldenActivations(float[][] Values, byte[][] Q8_0, byte[][] Q8_1, byte[][] Q8_K)
{
    /// <summary>The rows quantised to <paramref name="type"/>.</summary>
    public byte[][] In(GgufTensorType type) => type switch
    {
        GgufTensorType.Q8_0 => Q8_0,
        GgufTensorType.Q8_1 => Q8_1,
        GgufTensorType.Q8_K => Q8_K,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}

/// <summary>
/// One weight format's golden data: ggml's quantisation of every input row, its dequantisation, and the dot product
/// of each row with each activation row, <c>[weight row][activation row]</c>, both as the generic scalar code
/// computes it and as ggml-cpu's SIMD kernel on the generating machine did; and the generic dot product of each
/// single block, <c>[weight row][activation row][block]</c>.
/// </summary>
internal sealed record GoldenWeights(GgufTensorType Type, int N, int RowBytes, byte[][] Quantized, float[][] Dequantized,
    float[][] ScalarDots, float[][] SimdDots, float[][][] BlockDots);
