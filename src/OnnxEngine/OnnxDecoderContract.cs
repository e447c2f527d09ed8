using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static MlPipelines.Exporter.LlamaOnnxNames;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// The input/output contract an ONNX decoder follows, detected from the graph itself rather than from a manifest:
/// Hugging Face Optimum's causal-LM names (<c>input_ids</c>, <c>attention_mask</c>, <c>position_ids</c>,
/// <c>past_key_values.N.key|value</c> in, <c>logits</c> and <c>present.N.key|value</c> out), which this project's
/// exports follow too, adding <c>last_hidden_state</c>.
/// </summary>
/// <param name="Name">What the graph is: <c>mlpipe</c> (the names above plus <c>last_hidden_state</c>) or <c>optimum</c>.</param>
/// <param name="LayerCount">Layers, counted from the past key inputs.</param>
/// <param name="KvHeadCount">KV heads from the past keys' second axis, or null when symbolic.</param>
/// <param name="HeadDim">Head width from the past keys' last axis, or null when symbolic.</param>
/// <param name="VocabSize">Vocabulary from the logits' last axis, or null when symbolic.</param>
/// <param name="HasPositionIds">Whether the graph takes <c>position_ids</c>.</param>
/// <param name="HasLastHiddenState">Whether it returns the final-normed hidden states (embeddings need them).</param>
public sealed record OnnxDecoderContract(string Name, int LayerCount, int? KvHeadCount, int? HeadDim, int? VocabSize,
    bool HasPositionIds, bool HasLastHiddenState)
{
    /// <summary>The input holding each row's last real index (GroupQueryAttention's <c>seqlens_k</c>), in builder graphs that take it.</summary>
    public const string SequenceLengthsInput = "seqlens_k";

    /// <summary>The input holding the total length (past + new), in builder graphs that take it.</summary>
    public const string TotalSequenceLengthInput = "total_sequence_length";

    /// <summary>
    /// The boolean input of Optimum's merged decoders (<c>decoder_model_merged.onnx</c>): false on the first run, whose past
    /// is empty, true once there is a past to read.
    /// </summary>
    public const string UseCacheBranchInput = "use_cache_branch";

    /// <summary>
    /// Whether the graph writes the new keys and values into its past buffer (GroupQueryAttention with
    /// <c>past_present_share_buffer</c>): past and present are then one fixed-size buffer per tensor, bound to both, and rows
    /// must be right-padded (positions come from each row's length).
    /// </summary>
    public bool SharedKvBuffer { get; init; }

    /// <summary>The attention mask's element type: int64 (Optimum, this project) or int32 (some onnxruntime-genai builder graphs).</summary>
    public TensorElementType AttentionMaskType { get; init; } = TensorElementType.Int64;

    /// <summary>Whether the graph takes <c>seqlens_k</c> and <c>total_sequence_length</c> as inputs (int32) beside the mask.</summary>
    public bool HasSequenceLengthInputs { get; init; }

    /// <summary>Whether the graph takes <see cref="UseCacheBranchInput"/> (an Optimum merged decoder).</summary>
    public bool HasUseCacheBranch { get; init; }

    /// <summary>One line for reports: the contract, its layers and KV shape, and what it lacks.</summary>
    public override string ToString() =>
        $"{Name}: {LayerCount} layers, kv heads {KvHeadCount?.ToString() ?? "?"} × head width {HeadDim?.ToString() ?? "?"}, " +
        $"vocabulary {VocabSize?.ToString() ?? "?"}" + (HasPositionIds ? "" : ", no position_ids (positions from the attention mask)") +
        (SharedKvBuffer ? ", past and present share one KV buffer (GroupQueryAttention)" : "") +
        (AttentionMaskType == TensorElementType.Int32 ? ", int32 attention mask" : "") +
        (HasSequenceLengthInputs ? ", seqlens_k/total_sequence_length inputs" : "") +
        (HasUseCacheBranch ? ", use_cache_branch (merged decoder)" : "") +
        (HasLastHiddenState ? ", last_hidden_state" : ", no last_hidden_state (logits only: no embeddings)");

    /// <summary>Reads the contract of a loaded model.</summary>
    /// <exception cref="InvalidDataException">The graph fits no supported contract; the message says what is missing and what it has.</exception>
    public static OnnxDecoderContract Detect(InferenceSession session, string modelPath)
    {
        ArgumentNullException.ThrowIfNull(session);
        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;
        var missing = new List<string>();
        foreach (string name in new[] { InputIds, AttentionMask })
            if (!inputs.ContainsKey(name)) missing.Add($"input '{name}'");
        if (!outputs.ContainsKey(Logits)) missing.Add($"output '{Logits}'");
        int layers = 0;
        while (inputs.ContainsKey(PastKey(layers))) layers++;
        if (layers == 0) missing.Add($"inputs '{PastKey(0)}', '{PastValue(0)}', …");
        for (int l = 0; l < layers; l++)
            foreach (var (set, kind, name) in new[] { (inputs, "input", PastValue(l)), (outputs, "output", PresentKey(l)), (outputs, "output", PresentValue(l)) })
                if (!set.ContainsKey(name)) missing.Add($"{kind} '{name}'");
        if (missing.Count > 0)
            throw new InvalidDataException(
                $"{modelPath}: not a LLaMA decoder with Optimum's or onnxruntime-genai's past/present names: missing {string.Join(", ", missing)} " +
                $"(inputs: {List(inputs.Keys)}; outputs: {List(outputs.Keys)}).");
        // Without position_ids (Optimum's option) the graph numbers the tokens itself from the attention mask.
        bool positions = inputs.ContainsKey(PositionIds);
        bool lengths = inputs.ContainsKey(SequenceLengthsInput) && inputs.ContainsKey(TotalSequenceLengthInput);
        bool cacheBranch = inputs.ContainsKey(UseCacheBranchInput);
        int expected = 2 + 2 * layers + (positions ? 1 : 0) + (lengths ? 2 : 0) + (cacheBranch ? 1 : 0);
        if (inputs.Count != expected)
            throw new InvalidDataException($"{modelPath}: inputs beyond the decoder's ({List(inputs.Keys)}); expected {expected}.");
        int[] past = inputs[PastKey(0)].Dimensions;
        int[] logits = outputs[Logits].Dimensions;
        bool hidden = outputs.ContainsKey(LastHiddenState);
        bool shared = SharesKvBuffer(session, modelPath);
        string contractName = hidden ? "mlpipe" : shared ? "genai" : "optimum";
        return new OnnxDecoderContract(contractName, layers, Known(past, 1), Known(past, 3), Known(logits, 2), positions, hidden)
        {
            SharedKvBuffer = shared,
            AttentionMaskType = inputs[AttentionMask].ElementDataType,
            HasSequenceLengthInputs = lengths,
            HasUseCacheBranch = cacheBranch,
        };
    }

    /// <summary>
    /// Whether the graph expects one buffer for past and present: it says so in its metadata (this project's fused profile)
    /// or in the <c>genai_config.json</c> beside it (onnxruntime-genai's builder: <c>search.past_present_share_buffer</c>).
    /// </summary>
    private static bool SharesKvBuffer(InferenceSession session, string modelPath)
    {
        if (session.ModelMetadata.CustomMetadataMap.TryGetValue("mlpipe.profile", out string? profile))
            return profile == "fused";
        string genAiConfig = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, "genai_config.json");
        if (!File.Exists(genAiConfig)) return false;
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(genAiConfig));
            return json.RootElement.TryGetProperty("search", out var search)
                && search.TryGetProperty("past_present_share_buffer", out var flag) && flag.ValueKind == JsonValueKind.True;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{genAiConfig}: not valid JSON ({e.Message}).", e);
        }
    }

    private static int? Known(int[] dims, int axis) => dims.Length > axis && dims[axis] > 0 ? dims[axis] : null;

    private static string List(IEnumerable<string> names)
    {
        var all = names.ToList();
        return string.Join(", ", all.Take(8)) + (all.Count > 8 ? $", … ({all.Count})" : "");
    }
}
