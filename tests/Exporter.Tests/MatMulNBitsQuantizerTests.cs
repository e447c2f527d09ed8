using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using MlPipelines.Exporter.Onnx;
using MlPipelines.Exporter.Quantization;

namespace MlPipelines.Exporter.Tests;

/// <summary>
/// Weights quantised in C# for ONNX Runtime's <c>com.microsoft.MatMulNBits</c>: ONNX Runtime, running the operator on
/// them, computes <c>A · dequant(B)ᵀ</c> with the values this library means by its packing (so the layout is read as
/// intended), and the dequantised values are within half a step of the original weights (a step where symmetric codes clip).
/// </summary>
public sealed class MatMulNBitsQuantizerTests
{
    [Theory]
    [InlineData(4, 32, true)]
    [InlineData(4, 32, false)]
    [InlineData(8, 32, true)]
    [InlineData(8, 32, false)]
    [InlineData(4, 64, false)]
    public void Onnx_runtime_reads_the_packing_as_written(int bits, int blockSize, bool symmetric)
    {
        const int n = 48, k = 200, m = 3;   // K not a multiple of the block: the last block is padded
        var random = new Random(bits * 100 + blockSize + (symmetric ? 1 : 0));
        float[] w = Enumerable.Range(0, n * k).Select(_ => (float)(random.NextDouble() * 2 - 0.8)).ToArray();
        float[] a = Enumerable.Range(0, m * k).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        MatMulNBitsWeights q = MatMulNBitsQuantizer.Quantize(w, n, k, bits, blockSize, symmetric);

        // Each value within half a step of the weight (a step is the block's scale); symmetric codes reach one step less
        // on the side opposite the block's extreme (−2^(bits−1) … 2^(bits−1)−1), so values there may clip by up to a step.
        float bound = symmetric ? 1f : 0.5f;
        for (int row = 0; row < n; row++)
            for (int col = 0; col < k; col++)
            {
                float step = MathF.Abs(q.Scales[row * q.Blocks + col / blockSize]);
                Assert.True(MathF.Abs(q.Dequantize(row, col) - w[row * k + col]) <= step * bound + 1e-6f, $"[{row}, {col}]");
            }

        float[] y = Run(q, a, m);
        for (int i = 0; i < m; i++)
            for (int row = 0; row < n; row++)
            {
                double expected = 0;
                for (int col = 0; col < k; col++) expected += (double)a[i * k + col] * q.Dequantize(row, col);
                Assert.True(Math.Abs(expected - y[i * n + row]) <= 1e-4 * (1 + Math.Abs(expected)), $"y[{i}, {row}] = {y[i * n + row]}, expected {expected}");
            }
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentException>(() => MatMulNBitsQuantizer.Quantize(new float[64], 2, 32, 3, 32, true));
        Assert.Throws<ArgumentException>(() => MatMulNBitsQuantizer.Quantize(new float[64], 2, 32, 4, 24, true));
        Assert.Throws<ArgumentException>(() => MatMulNBitsQuantizer.Quantize(new float[63], 2, 32, 4, 32, true));
    }

    /// <summary>A one-node model: Y = MatMulNBits(A, B, scales[, zero_points]).</summary>
    internal static float[] Run(MatMulNBitsWeights q, float[] a, int m)
    {
        var graph = new GraphProto { Name = "matmulnbits" };
        graph.Input.Add(Value("A", TensorProto.Types.DataType.Float, m, q.K));
        graph.Output.Add(Value("Y", TensorProto.Types.DataType.Float, m, q.N));
        graph.Initializer.Add(Tensor("B", TensorProto.Types.DataType.Uint8, q.Codes, q.N, q.Blocks, q.BlobBytes));
        graph.Initializer.Add(FloatTensor("scales", q.Scales, (long)q.N * q.Blocks));
        var node = new NodeProto { OpType = "MatMulNBits", Domain = "com.microsoft", Name = "mm" };
        node.Input.AddRange(["A", "B", "scales"]);
        if (q.ZeroPoints is { } zp)
        {
            graph.Initializer.Add(Tensor("zero_points", TensorProto.Types.DataType.Uint8, zp, zp.Length));
            node.Input.Add("zero_points");
        }
        node.Output.Add("Y");
        foreach (var (name, value) in new[] { ("K", (long)q.K), ("N", q.N), ("bits", q.Bits), ("block_size", q.BlockSize) })
            node.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });
        graph.Node.Add(node);
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });

        using var session = new InferenceSession(model.ToByteArray());
        using var input = OrtValue.CreateTensorValueFromMemory(a, [m, q.K]);
        using var results = session.Run(new RunOptions(), ["A"], [input], ["Y"]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static ValueInfoProto Value(string name, TensorProto.Types.DataType type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    private static TensorProto Tensor(string name, TensorProto.Types.DataType type, byte[] raw, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static TensorProto FloatTensor(string name, float[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values);
        return t;
    }
}
