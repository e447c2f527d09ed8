using System.Runtime.InteropServices;
using MlPipelines.Exporter.Onnx;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Exporter.Graph;

/// <summary>
/// Builds an ONNX graph of default-domain operators. Values are referred to by name (strings);
/// every node output gets a fresh, unique name derived from a readable hint. Initializers are
/// recorded with their data source and materialised only by <see cref="OnnxModelWriter"/>.
/// Typed helpers for each operator live in <c>GraphBuilder.Ops.cs</c>.
/// </summary>
internal sealed partial class GraphBuilder
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);
    private readonly List<(TensorProto Header, InitializerData Data)> _initializers = [];
    private int _nodeCount;

    public GraphBuilder(string name) => Graph = new GraphProto { Name = name };

    /// <summary>The graph so far: nodes, inputs and outputs (initializer data is kept aside).</summary>
    public GraphProto Graph { get; }

    /// <summary>The initializers: headers (name, type, dims) and where their bytes come from.</summary>
    public IReadOnlyList<(TensorProto Header, InitializerData Data)> Initializers => _initializers;

    /// <summary>A name not used before: <paramref name="hint"/> itself when free, else with a numeric suffix.</summary>
    public string Fresh(string hint)
    {
        if (_names.Add(hint)) return hint;
        for (int i = 1; ; i++)
        {
            string candidate = $"{hint}_{i}";
            if (_names.Add(candidate)) return candidate;
        }
    }

    /// <summary>Declares a graph input with symbolic (string) or fixed (int/long) dimensions.</summary>
    public string Input(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        Claim(name);
        Graph.Input.Add(ValueInfo(name, type, dims));
        return name;
    }

    /// <summary>Declares <paramref name="value"/> (a node output of that exact name) a graph output.</summary>
    public void Output(string value, TensorProto.Types.DataType type, params object[] dims) =>
        Graph.Output.Add(ValueInfo(value, type, dims));

    /// <summary>Adds an fp32 initializer over weight memory (no copy).</summary>
    public string Weight(string name, WeightTensor weights, params long[] dims)
    {
        long count = dims.Aggregate(1L, (a, d) => a * d);
        if (count != weights.Length)
            throw new ArgumentException($"Initializer '{name}': shape [{string.Join(", ", dims)}] needs {count} floats but the tensor has {weights.Length}.");
        return AddInitializer(name, TensorProto.Types.DataType.Float, dims, InitializerData.From(weights));
    }

    /// <summary>Adds an initializer of any element type over bytes the caller built (quantised codes, fp16 weights).</summary>
    public string Bytes(string name, TensorProto.Types.DataType type, byte[] bytes, params long[] dims) =>
        AddInitializer(name, type, dims, InitializerData.From(bytes));

    /// <summary>Adds an fp32 initializer holding a copy of <paramref name="values"/>.</summary>
    public string Floats(string name, ReadOnlySpan<float> values, params long[] dims) =>
        AddInitializer(name, TensorProto.Types.DataType.Float, dims, InitializerData.From(MemoryMarshal.AsBytes(values).ToArray()));

    /// <summary>A 1-D int64 constant (shared by every use of the same values).</summary>
    public string Int64s(params long[] values) =>
        Constant("i64[" + string.Join(",", values) + "]", TensorProto.Types.DataType.Int64, [values.Length], MemoryMarshal.AsBytes(values.AsSpan()));

    /// <summary>A rank-0 int64 constant.</summary>
    public string Int64Scalar(long value) =>
        Constant($"i64({value})", TensorProto.Types.DataType.Int64, [], MemoryMarshal.AsBytes(new[] { value }.AsSpan()));

    /// <summary>A rank-0 float constant.</summary>
    public string FloatScalar(float value) =>
        Constant($"f32({BitConverter.SingleToInt32Bits(value):x8})", TensorProto.Types.DataType.Float, [], MemoryMarshal.AsBytes(new[] { value }.AsSpan()));

    /// <summary>Appends a node and returns its (single) output's name.</summary>
    public string Node(string opType, string outputHint, IEnumerable<string> inputs, params AttributeProto[] attributes) =>
        NodeWithOutputs(opType, [outputHint], inputs, attributes)[0];

    /// <summary>The domain of ONNX Runtime's contrib operators (GroupQueryAttention, MatMulNBits, …).</summary>
    public const string ContribDomain = "com.microsoft";

    /// <summary>Whether any node is a contrib operator (the model must then import <see cref="ContribDomain"/>).</summary>
    public bool UsesContribOperators { get; private set; }

    /// <summary>Appends a <see cref="ContribDomain"/> node (see <see cref="NodeWithOutputs"/> for the output hints).</summary>
    public string[] ContribNode(string opType, IReadOnlyList<string> outputHints, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        string[] outputs = NodeWithOutputs(opType, outputHints, inputs, attributes);
        Graph.Node[^1].Domain = ContribDomain;
        UsesContribOperators = true;
        return outputs;
    }

    /// <summary>
    /// Appends a node. An output hint that starts with '=' is used verbatim (graph outputs such as
    /// <c>present.0.key</c> must carry their exact name); an empty hint leaves an optional output unused; other hints
    /// are made unique.
    /// </summary>
    public string[] NodeWithOutputs(string opType, IReadOnlyList<string> outputHints, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{_nodeCount++}" };
        node.Input.AddRange(inputs);
        var outputs = outputHints.Select(h => h.Length == 0 ? "" : h.StartsWith('=') ? Claim(h[1..]) : Fresh(h)).ToArray();
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return outputs;
    }

    private string Constant(string key, TensorProto.Types.DataType type, long[] dims, ReadOnlySpan<byte> bytes)
    {
        if (_constants.TryGetValue(key, out string? existing)) return existing;
        string name = AddInitializer(Fresh("const"), type, dims, InitializerData.From(bytes.ToArray()), claimed: true);
        _constants[key] = name;
        return name;
    }

    private string AddInitializer(string name, TensorProto.Types.DataType type, long[] dims, InitializerData data, bool claimed = false)
    {
        if (!claimed) Claim(name);
        var header = new TensorProto { Name = name, DataType = (int)type };
        header.Dims.AddRange(dims);
        _initializers.Add((header, data));
        return name;
    }

    private string Claim(string name)
    {
        if (!_names.Add(name))
            throw new InvalidOperationException($"The graph already has a value named '{name}'.");
        return name;
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object d in dims)
        {
            shape.Dim.Add(d switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                int n => new TensorShapeProto.Types.Dimension { DimValue = n },
                long n => new TensorShapeProto.Types.Dimension { DimValue = n },
                _ => throw new ArgumentException($"Dimension {d} of '{name}' must be a symbol or a number."),
            });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
