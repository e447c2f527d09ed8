using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MlPipelines.ManagedEngine.Model;
using N = MlPipelines.Exporter.LlamaOnnxNames;

namespace MlPipelines.Exporter.Tests.Support;

/// <summary>The tensors of one decoder call, row-major, with a batch of <c>Batch</c> rows.</summary>
internal sealed class DecoderStep
{
    public required float[] Logits { get; init; }          // [B, S, vocab]
    public required float[] Hidden { get; init; }          // [B, S, dim]
    public required float[][] PresentKeys { get; init; }   // per layer [B, KvH, T, hd]
    public required float[][] PresentValues { get; init; }
    public required long TotalLength { get; init; }
}

/// <summary>
/// Runs an exported model with a plain ONNX Runtime <see cref="InferenceSession"/> (CPU, default
/// options) through the OrtValue API: the same way an independent consumer would.
/// </summary>
internal sealed class OnnxDecoder : IDisposable
{
    private readonly ModelConfig _c;

    public OnnxDecoder(string modelPath, ModelConfig config)
    {
        _c = config;
        Session = new InferenceSession(modelPath);
    }

    public InferenceSession Session { get; }

    /// <summary>One call: ids/positions [batch, seq], mask [batch, past + seq], past per layer [batch, KvH, past, hd] (null: empty).</summary>
    public DecoderStep Run(int batch, long[] ids, long[] mask, long[] positions, DecoderStep? past = null)
    {
        int seq = ids.Length / batch;
        long pastLen = past?.TotalLength ?? 0;
        Assert.Equal(batch * (pastLen + seq), mask.Length);
        var names = new List<string>();
        var values = new List<OrtValue>();
        try
        {
            void Add(string name, OrtValue value) { names.Add(name); values.Add(value); }
            Add(N.InputIds, OrtValue.CreateTensorValueFromMemory(ids, [batch, seq]));
            Add(N.AttentionMask, OrtValue.CreateTensorValueFromMemory(mask, [batch, pastLen + seq]));
            Add(N.PositionIds, OrtValue.CreateTensorValueFromMemory(positions, [batch, seq]));
            long[] pastShape = [batch, _c.KvHeadCount, pastLen, _c.HeadDim];
            for (int l = 0; l < _c.LayerCount; l++)
            {
                Add(N.PastKey(l), Tensor(past?.PresentKeys[l], pastShape));
                Add(N.PastValue(l), Tensor(past?.PresentValues[l], pastShape));
            }

            var outputNames = new List<string> { N.Logits, N.LastHiddenState };
            for (int l = 0; l < _c.LayerCount; l++)
            {
                outputNames.Add(N.PresentKey(l));
                outputNames.Add(N.PresentValue(l));
            }
            using var runOptions = new RunOptions();
            using var outputs = Session.Run(runOptions, names, values, outputNames);
            var list = outputs.ToList();
            var keys = new float[_c.LayerCount][];
            var vals = new float[_c.LayerCount][];
            for (int l = 0; l < _c.LayerCount; l++)
            {
                keys[l] = list[2 + 2 * l].GetTensorDataAsSpan<float>().ToArray();
                vals[l] = list[3 + 2 * l].GetTensorDataAsSpan<float>().ToArray();
            }
            Assert.Equal([batch, seq, (long)_c.VocabSize], list[0].GetTensorTypeAndShape().Shape);
            Assert.Equal([batch, _c.KvHeadCount, pastLen + seq, (long)_c.HeadDim], list[2].GetTensorTypeAndShape().Shape);
            return new DecoderStep
            {
                Logits = list[0].GetTensorDataAsSpan<float>().ToArray(),
                Hidden = list[1].GetTensorDataAsSpan<float>().ToArray(),
                PresentKeys = keys,
                PresentValues = vals,
                TotalLength = pastLen + seq,
            };
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>A single unpadded sequence: mask all ones, positions pastLen.. .</summary>
    public DecoderStep RunSequence(ReadOnlySpan<int> tokens, DecoderStep? past = null)
    {
        long pastLen = past?.TotalLength ?? 0;
        long[] ids = new long[tokens.Length];
        long[] pos = new long[tokens.Length];
        for (int i = 0; i < tokens.Length; i++) { ids[i] = tokens[i]; pos[i] = pastLen + i; }
        long[] mask = Enumerable.Repeat(1L, (int)pastLen + tokens.Length).ToArray();
        return Run(1, ids, mask, pos, past);
    }

    private static OrtValue Tensor(float[]? data, long[] shape) =>
        data is null
            ? OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, shape)
            : OrtValue.CreateTensorValueFromMemory(data, shape);

    public void Dispose() => Session.Dispose();
}
