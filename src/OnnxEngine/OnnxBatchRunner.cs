using Microsoft.ML.OnnxRuntime;
using MlPipelines.ManagedEngine.Model;
using static MlPipelines.Exporter.LlamaOnnxNames;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// One padded batch through the decoder with an empty cache. Padding slots get token 0, attention-mask
/// 0 and position 0; real tokens get positions counted from 0 within their own row, so each row
/// computes exactly what it would alone.
/// </summary>
/// <remarks>
/// A graph built on GroupQueryAttention (<see cref="OnnxDecoderContract.SharedKvBuffer"/>) numbers each row's tokens from
/// its length, which only right padding keeps right: such graphs are always run right-padded, whatever was asked (the
/// result says which layout it holds, and reads the same through its accessors).
/// </remarks>
internal static class OnnxBatchRunner
{
    public static BatchForwardResult Run(OnnxLanguageModel model, IReadOnlyList<int[]> sequences, BatchOutputs outputs, PaddingSide padding)
    {
        ModelConfig c = model.Config;
        int[] lengths = BatchArguments.Check(c, sequences, outputs);
        if (model.Contract.SharedKvBuffer) padding = PaddingSide.Right;
        int batch = sequences.Count;
        int length = lengths.Max();

        var ids = new long[batch * length];
        var mask = new long[batch * length];
        var positions = new long[batch * length];
        for (int b = 0; b < batch; b++)
        {
            int offset = b * length + (padding == PaddingSide.Right ? 0 : length - lengths[b]);
            for (int i = 0; i < lengths[b]; i++)
            {
                ids[offset + i] = sequences[b][i];
                mask[offset + i] = 1;
                positions[offset + i] = i;
            }
        }

        long[] shape = [batch, length];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = model.Contract.AttentionMaskType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int32
            ? OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(mask, m => (int)m), shape)
            : OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var positionsValue = OrtValue.CreateTensorValueFromMemory(positions, shape);
        using var seqlensValue = OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(lengths, n => n - 1), [batch]);
        using var totalValue = OrtValue.CreateTensorValueFromMemory(new[] { length }, model.TotalLengthIsScalar ? [] : [1]);
        using var noCache = OrtValue.CreateTensorValueFromMemory(new[] { false }, [1]);
        using var emptyPast = OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [batch, c.KvHeadCount, 0, model.KvHeadWidth]);
        using var binding = model.Session.CreateIoBinding();
        using var runOptions = new RunOptions();
        binding.BindInput(InputIds, idsValue);
        binding.BindInput(AttentionMask, maskValue);
        if (model.Contract.HasPositionIds)
            binding.BindInput(PositionIds, positionsValue);   // otherwise the graph counts them from the mask, as here
        if (model.Contract.HasSequenceLengthInputs)
        {
            binding.BindInput(OnnxDecoderContract.SequenceLengthsInput, seqlensValue);
            binding.BindInput(OnnxDecoderContract.TotalSequenceLengthInput, totalValue);
        }
        if (model.Contract.HasUseCacheBranch)
            binding.BindInput(OnnxDecoderContract.UseCacheBranchInput, noCache);   // an empty past: the no-cache branch
        for (int l = 0; l < c.LayerCount; l++)
        {
            binding.BindInput(PastKey(l), emptyPast);
            binding.BindInput(PastValue(l), emptyPast);
        }
        bool wantLogits = outputs.HasFlag(BatchOutputs.Logits), wantHidden = outputs.HasFlag(BatchOutputs.HiddenStates);
        if (wantHidden && !model.Contract.HasLastHiddenState)
            throw OnnxModelSession.NoHiddenStates(model);
        if (wantLogits) binding.BindOutputToDevice(Logits, OrtMemoryInfo.DefaultInstance);
        if (wantHidden) binding.BindOutputToDevice(LastHiddenState, OrtMemoryInfo.DefaultInstance);
        model.Run(runOptions, binding);

        using var results = binding.GetOutputValues();
        int index = 0;
        float[]? logits = wantLogits ? results[index++].GetTensorDataAsSpan<float>().ToArray() : null;
        float[]? hidden = wantHidden ? results[index++].GetTensorDataAsSpan<float>().ToArray() : null;
        return new BatchForwardResult(lengths, length, padding, c.VocabSize, c.Dim, logits, hidden);
    }
}
