using System.Buffers.Binary;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Quantization.Ggml;
using MlPipelines.ManagedEngine.WeightStorage;

namespace MlPipelines.ManagedEngine.Tests.WeightStorage;

/// <summary>
/// The fast path against ggml's reference (itself checked bit for bit against ggml): the activation quantisers give
/// ggml's codes and scales, and the kernels' dot products equal ggml's within fp32 summation-order error.
/// </summary>
public unsafe class GgmlAgreementTests
{
    private static float[] RandomRow(int n, int seed)
    {
        var random = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)((random.NextDouble() - 0.5) * (i % 97 == 0 ? 20 : 2));
        return x;
    }

    [Theory]
    [InlineData(GgufTensorType.Q8_0)]
    [InlineData(GgufTensorType.Q6_K)]
    public void Activation_codes_and_scales_are_ggml_s(GgufTensorType weightType)
    {
        ActivationGrouping grouping = WeightFormats.Activations(WeightFormats.FromGguf(weightType)!.Value)!.Value;
        const int cols = 1024;
        float[] x = RandomRow(cols, 5);
        x[300] = 0.5f * 127 / 127;   // and a block of exact ties below
        for (int i = 512; i < 544; i++) x[i] = (i - 512 - 15.5f) / 2f;
        var ours = new QuantizedActivations(cols, 1, grouping);
        fixed (float* p = x) ours.Quantize(p, 1, cols);
        GgufTensorType activationType = GgmlReference.ActivationType(weightType);
        var blocks = new byte[GgmlBlockLayouts.Get(activationType).Bytes * cols / GgmlBlockLayouts.Get(activationType).Elements];
        GgmlReference.QuantizeActivations(weightType, x, blocks);
        int unit = GgmlBlockLayouts.Get(activationType).Elements, bytes = GgmlBlockLayouts.Get(activationType).Bytes;
        for (int b = 0; b < cols / unit; b++)
        {
            ReadOnlySpan<byte> block = blocks.AsSpan(b * bytes, bytes);
            float scale = activationType == GgufTensorType.Q8_K
                ? BinaryPrimitives.ReadSingleLittleEndian(block)
                : (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(block));
            int codes = activationType == GgufTensorType.Q8_K ? 4 : 2;
            Assert.Equal(scale, ours.Scales(0)[b * unit / 32]);
            for (int j = 0; j < unit; j++)
                Assert.True((sbyte)block[codes + j] == ours.Values(0)[b * unit + j], $"block {b} code {j}");
        }
    }

    public static TheoryData<GgufTensorType> Types() =>
        [GgufTensorType.Q8_0, GgufTensorType.Q4_0, GgufTensorType.Q4_1, GgufTensorType.Q5_0, GgufTensorType.Q5_1,
         GgufTensorType.Q4_K, GgufTensorType.Q5_K, GgufTensorType.Q6_K];

    [Theory]
    [MemberData(nameof(Types))]
    public void Kernel_dot_products_equal_ggml_s_within_summation_error(GgufTensorType type)
    {
        const int rows = 5, cols = 1024;
        WeightFormat format = WeightFormats.FromGguf(type)!.Value;
        var layout = GgmlBlockLayouts.Get(type);
        int rowBytes = cols / layout.Elements * layout.Bytes;
        var weights = new byte[rows * rowBytes];
        var weightValues = new float[rows][];
        for (int r = 0; r < rows; r++)
        {
            weightValues[r] = RandomRow(cols, 100 + r);
            GgmlReference.Quantize(type, weightValues[r], weights.AsSpan(r * rowBytes, rowBytes));
        }
        float[] x = RandomRow(cols, 7);
        GgufTensorType activationType = GgmlReference.ActivationType(type);
        var activationLayout = GgmlBlockLayouts.Get(activationType);
        var xBlocks = new byte[cols / activationLayout.Elements * activationLayout.Bytes];
        GgmlReference.QuantizeActivations(type, x, xBlocks);

        var activations = new QuantizedActivations(cols, 1, WeightFormats.Activations(format)!.Value);
        var y = new float[rows];
        fixed (byte* w = weights)
        fixed (float* xp = x, yp = y)
        {
            activations.Quantize(xp, 1, cols);
            new StoredMatrix(w, format, rows, cols).Multiply(activations, 1, yp, rows, 0, rows, KernelPaths.Default);
        }
        for (int r = 0; r < rows; r++)
        {
            float expected = GgmlReference.Dot(type, weights.AsSpan(r * rowBytes, rowBytes), xBlocks, cols);
            // Terms up to |w|·|x| ≈ 10 each over 1024 values: fp32 reordering error is a few 1e-5 of Σ|w·x|. Q4_1/Q5_1
            // differ more: ggml rounds the activation sums to fp16 (Q8_1), the kernels keep them in fp32.
            double magnitude = Enumerable.Range(0, cols).Sum(c => Math.Abs((double)weightValues[r][c] * x[c]));
            double bound = (type is GgufTensorType.Q4_1 or GgufTensorType.Q5_1 ? 2e-3 : 2e-6) * magnitude;
            Assert.True(Math.Abs(y[r] - expected) <= bound, $"{type} row {r}: {y[r]} vs ggml {expected} (bound {bound})");
        }
    }
}
