using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MlPipelines.ManagedEngine.Model;
using static MlPipelines.Exporter.LlamaOnnxNames;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// The input/output interface of an exported decoder (names as Hugging Face Optimum and
/// onnxruntime-genai use them), checked when a model is loaded so that a foreign or mismatched
/// model fails with a message naming the offending input rather than deep inside a run.
/// </summary>
internal static class OnnxModelContract
{
    public static void Check(InferenceSession session, ModelConfig config, string modelPath, OnnxDecoderContract contract)
    {
        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;
        Expect(inputs, "input", InputIds, TensorElementType.Int64, 2, modelPath);
        if (contract.AttentionMaskType is not (TensorElementType.Int64 or TensorElementType.Int32))
            throw new InvalidDataException($"{modelPath}: input '{AttentionMask}' should be int64 or int32, but is {contract.AttentionMaskType}.");
        Expect(inputs, "input", AttentionMask, contract.AttentionMaskType, 2, modelPath);
        if (contract.HasSequenceLengthInputs)
        {
            Expect(inputs, "input", OnnxDecoderContract.SequenceLengthsInput, TensorElementType.Int32, 1, modelPath);
            ExpectInt32Scalar(inputs, OnnxDecoderContract.TotalSequenceLengthInput, modelPath);
        }
        if (contract.HasPositionIds)
            Expect(inputs, "input", PositionIds, TensorElementType.Int64, 2, modelPath);
        if (contract.HasUseCacheBranch)
            Expect(inputs, "input", OnnxDecoderContract.UseCacheBranchInput, TensorElementType.Bool, 1, modelPath);
        Expect(outputs, "output", Logits, TensorElementType.Float, 3, modelPath, (2, config.VocabSize));
        if (contract.HasLastHiddenState)
            Expect(outputs, "output", LastHiddenState, TensorElementType.Float, 3, modelPath, (2, config.Dim));
        // A graph may pad heads with zero channels (GroupQueryAttention takes widths in multiples of 16): its KV width is
        // then larger than the model's head width, never smaller.
        if (inputs.TryGetValue(PastKey(0), out NodeMetadata? past) && past.IsTensor && past.ElementDataType != TensorElementType.Float)
            throw new InvalidDataException(
                $"{modelPath}: its KV cache ('{PastKey(0)}') is {past.ElementDataType}; this engine binds an fp32 cache, so it runs exports with " +
                "fp32 inputs and outputs (fp32, int8 or int4 weights: e.g. a Hub repository's onnx/model.onnx or model_q4.onnx, not model_fp16.onnx).");
        int width = contract.HeadDim ?? config.HeadDim;
        if (width < config.HeadDim)
            throw new InvalidDataException($"{modelPath}: its KV cache holds heads {width} wide, but the model's configuration has heads {config.HeadDim} wide.");
        for (int l = 0; l < config.LayerCount; l++)
        {
            foreach (string name in new[] { PastKey(l), PastValue(l) })
                Expect(inputs, "input", name, TensorElementType.Float, 4, modelPath, (1, config.KvHeadCount), (3, width));
            foreach (string name in new[] { PresentKey(l), PresentValue(l) })
                Expect(outputs, "output", name, TensorElementType.Float, 4, modelPath, (1, config.KvHeadCount), (3, width));
        }
        int expectedInputs = (contract.HasPositionIds ? 3 : 2) + (contract.HasSequenceLengthInputs ? 2 : 0) + (contract.HasUseCacheBranch ? 1 : 0)
            + 2 * config.LayerCount;
        if (inputs.Count != expectedInputs)
            throw new InvalidDataException(
                $"{modelPath}: expected {expectedInputs} inputs for a {config.LayerCount}-layer decoder, found {inputs.Count} ({string.Join(", ", inputs.Keys)}).");
    }

    private static void ExpectInt32Scalar(IReadOnlyDictionary<string, NodeMetadata> inputs, string name, string modelPath)
    {
        NodeMetadata node = inputs[name];
        if (!node.IsTensor || node.ElementDataType != TensorElementType.Int32 || node.Dimensions.Length > 1)
            throw new InvalidDataException($"{modelPath}: input '{name}' should be an int32 scalar, but is a rank-{node.Dimensions.Length} {node.ElementDataType} tensor.");
    }

    private static void Expect(IReadOnlyDictionary<string, NodeMetadata> metadata, string kind, string name,
        TensorElementType type, int rank, string modelPath, params (int Axis, int Size)[] fixedDims)
    {
        if (!metadata.TryGetValue(name, out NodeMetadata? node))
            throw new InvalidDataException(
                $"{modelPath}: the model has no {kind} '{name}', so it is not an exported LLaMA decoder (its {kind}s: {string.Join(", ", metadata.Keys.Take(8))}{(metadata.Count > 8 ? ", ..." : "")}).");
        if (!node.IsTensor || node.ElementDataType != type || node.Dimensions.Length != rank)
            throw new InvalidDataException(
                $"{modelPath}: {kind} '{name}' should be a rank-{rank} {type} tensor, but is {(node.IsTensor ? $"a rank-{node.Dimensions.Length} {node.ElementDataType} tensor" : node.OnnxValueType.ToString())}.");
        foreach (var (axis, size) in fixedDims)
        {
            int actual = node.Dimensions[axis];
            if (actual >= 0 && actual != size)
                throw new InvalidDataException(
                    $"{modelPath}: {kind} '{name}' has size {actual} on axis {axis}, but the model's configuration implies {size}.");
        }
    }
}
