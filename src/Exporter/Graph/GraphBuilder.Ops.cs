using MlPipelines.Exporter.Onnx;

namespace MlPipelines.Exporter.Graph;

/// <summary>
/// Typed helpers for the default-domain operators the exporter uses, with the signatures of
/// opset 17 (for example ReduceMean takes <c>axes</c> as an attribute, Unsqueeze as an input).
/// Each returns the name of the node's output; <c>name</c> hints are optional.
/// </summary>
internal sealed partial class GraphBuilder
{
    public string Gather(string data, string indices, long axis = 0, string name = "gather") =>
        Node("Gather", name, [data, indices], Attr.Int("axis", axis));

    /// <summary><c>a · bᵀ</c> for 2-D <paramref name="a"/> <c>[N, in]</c> and a stored <c>[out, in]</c> weight.</summary>
    public string GemmTransB(string a, string b, string name = "gemm") =>
        Node("Gemm", name, [a, b], Attr.Int("transB", 1));

    public string MatMul(string a, string b, string name = "matmul") => Node("MatMul", name, [a, b]);

    public string Add(string a, string b, string name = "add") => Node("Add", name, [a, b]);

    public string Sub(string a, string b, string name = "sub") => Node("Sub", name, [a, b]);

    public string Mul(string a, string b, string name = "mul") => Node("Mul", name, [a, b]);

    public string Div(string a, string b, string name = "div") => Node("Div", name, [a, b]);

    public string Sqrt(string x, string name = "sqrt") => Node("Sqrt", name, [x]);

    public string Reciprocal(string x, string name = "reciprocal") => Node("Reciprocal", name, [x]);

    public string Sigmoid(string x, string name = "sigmoid") => Node("Sigmoid", name, [x]);

    /// <summary>ReduceMean of opset 17 (before 18 the axes are an attribute).</summary>
    public string ReduceMean(string x, long[] axes, bool keepDims, string name = "mean") =>
        Node("ReduceMean", name, [x], Attr.Ints("axes", axes), Attr.Int("keepdims", keepDims ? 1 : 0));

    public string Softmax(string x, long axis, string name = "softmax") => Node("Softmax", name, [x], Attr.Int("axis", axis));

    /// <summary>Reshape; in <paramref name="shape"/>, 0 copies the input's dimension and -1 is inferred.</summary>
    public string Reshape(string x, string shape, string name = "reshape") => Node("Reshape", name, [x, shape]);

    public string Transpose(string x, long[] perm, string name = "transpose") => Node("Transpose", name, [x], Attr.Ints("perm", perm));

    public string Concat(IEnumerable<string> inputs, long axis, string name = "concat") =>
        Node("Concat", name, inputs, Attr.Int("axis", axis));

    /// <summary>Slice with constant starts/ends/axes (steps 1).</summary>
    public string Slice(string x, long[] starts, long[] ends, long[] axes, string name = "slice") =>
        Node("Slice", name, [x, Int64s(starts), Int64s(ends), Int64s(axes)]);

    /// <summary>Unsqueeze of opset 13+ (axes are an input).</summary>
    public string Unsqueeze(string x, long[] axes, string name = "unsqueeze") => Node("Unsqueeze", name, [x, Int64s(axes)]);

    public string Shape(string x, string name = "shape") => Node("Shape", name, [x]);

    /// <summary>Range over scalar start, limit and delta.</summary>
    public string Range(string start, string limit, string delta, string name = "range") => Node("Range", name, [start, limit, delta]);

    public string LessOrEqual(string a, string b, string name = "le") => Node("LessOrEqual", name, [a, b]);

    public string And(string a, string b, string name = "and") => Node("And", name, [a, b]);

    public string Cast(string x, TensorProto.Types.DataType to, string name = "cast") => Node("Cast", name, [x], Attr.Int("to", (long)to));

    public string Where(string condition, string whenTrue, string whenFalse, string name = "where") =>
        Node("Where", name, [condition, whenTrue, whenFalse]);

    /// <summary>Attribute constructors.</summary>
    internal static class Attr
    {
        public static AttributeProto Int(string name, long value) =>
            new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

        public static AttributeProto Ints(string name, IEnumerable<long> values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(values);
            return a;
        }

        public static AttributeProto Float(string name, float value) =>
            new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
    }
}
