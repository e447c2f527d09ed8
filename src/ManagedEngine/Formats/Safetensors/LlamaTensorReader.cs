using MlPipelines.ManagedEngine.Model;
using static MlPipelines.ManagedEngine.Formats.Safetensors.LlamaTensorNames;

namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// Turns the tensors of a Hugging Face Llama checkpoint into <see cref="LlamaWeights"/> in the
/// internal convention. Every expected tensor is found and its dtype and shape checked against the
/// configuration before any buffer is allocated; then fp32 tensors become views of the mapping and
/// the rest (F16/BF16, and q/k whose rows must be reordered) are converted into buffers of the
/// <see cref="WeightMemory"/>.
/// </summary>
internal sealed unsafe class LlamaTensorReader(SafetensorsTensorSet tensors, HuggingFaceConfig hf, string configPath, WeightMemory memory)
{
    /// <summary>A tensor found and checked; <paramref name="RotaryHeadDim"/> &gt; 0 when its rows must be un-permuted.</summary>
    private readonly record struct Planned(SafetensorsFile File, SafetensorsTensor Tensor, int RotaryHeadDim = 0);

    /// <summary>Every tensor found and checked: the embedding, each layer's nine, the final norm, and the classifier unless tied.</summary>
    private sealed record PlannedModel(Planned Embedding, Planned[][] Layers, Planned FinalNorm, Planned? Classifier);

    private PlannedModel PlanAll()
    {
        CheckForeignTensors();
        int dim = hf.HiddenSize, hidden = hf.IntermediateSize, vocab = hf.VocabSize;
        int headDim = hf.EffectiveHeadDim, queryDim = headDim * hf.NumAttentionHeads, kvDim = headDim * hf.NumKeyValueHeads;

        Planned embedding = Plan(Embedding, vocab, dim, "[vocab_size, hidden_size]");
        var layers = new Planned[hf.NumHiddenLayers][];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] =
            [
                Plan(Layer(i, AttentionNorm), dim, null, "[hidden_size]"),
                Plan(Layer(i, Query), queryDim, dim, "[num_attention_heads * head_dim, hidden_size]") with { RotaryHeadDim = headDim },
                Plan(Layer(i, Key), kvDim, dim, "[num_key_value_heads * head_dim, hidden_size]") with { RotaryHeadDim = headDim },
                Plan(Layer(i, Value), kvDim, dim, "[num_key_value_heads * head_dim, hidden_size]"),
                Plan(Layer(i, Output), dim, queryDim, "[hidden_size, num_attention_heads * head_dim]"),
                Plan(Layer(i, FfnNorm), dim, null, "[hidden_size]"),
                Plan(Layer(i, Gate), hidden, dim, "[intermediate_size, hidden_size]"),
                Plan(Layer(i, Down), dim, hidden, "[hidden_size, intermediate_size]"),
                Plan(Layer(i, Up), hidden, dim, "[intermediate_size, hidden_size]"),
            ];
        }
        Planned finalNorm = Plan(FinalNorm, dim, null, "[hidden_size]");
        // transformers ties lm_head to the embedding when tie_word_embeddings is set (any stored
        // lm_head is overwritten), and checkpoints saved with tied weights omit it altogether.
        bool shared = hf.TieWordEmbeddings || !tensors.TryGet(Classifier, out _, out _);
        Planned? classifier = shared ? null : Plan(Classifier, vocab, dim, "[vocab_size, hidden_size]");
        return new PlannedModel(embedding, layers, finalNorm, classifier);
    }

    /// <summary>Reads all weights as fp32; <paramref name="source"/> becomes <see cref="LlamaWeights.Source"/>.</summary>
    public LlamaWeights Read(string source)
    {
        PlannedModel p = PlanAll();
        WeightTensor embeddingWeights = Materialise(p.Embedding);
        var layerWeights = p.Layers.Select(l => new LayerWeights
        {
            RmsAttention = Materialise(l[0]),
            Wq = Materialise(l[1]),
            Wk = Materialise(l[2]),
            Wv = Materialise(l[3]),
            Wo = Materialise(l[4]),
            RmsFfn = Materialise(l[5]),
            W1 = Materialise(l[6]),
            W2 = Materialise(l[7]),
            W3 = Materialise(l[8]),
        }).ToArray();
        ModelConfig config = hf.ToModelConfig() with { SharedClassifier = p.Classifier is null };
        return new LlamaWeights(config, embeddingWeights, layerWeights, Materialise(p.FinalNorm),
            p.Classifier is { } c ? Materialise(c) : embeddingWeights, memory, source);
    }

    /// <summary>
    /// Reads the weights with every matrix as stored (F32, F16 or BF16), used in place from the mapping, q and k rows
    /// included: they stay in Hugging Face's order, and the forward pass rotates them as such
    /// (<see cref="WeightStorage.StoredLlamaWeights.RotaryHalves"/>). Only norm weights, and a matrix whose data sits
    /// off its element boundary (the format allows it), are converted to fp32 buffers. <paramref name="source"/> becomes
    /// <see cref="WeightStorage.StoredLlamaWeights.Source"/>; the weights own <see cref="WeightMemory"/> from here on.
    /// </summary>
    public WeightStorage.StoredLlamaWeights ReadStored(string source)
    {
        PlannedModel p = PlanAll();
        WeightStorage.StoredMatrix embedding = Stored(p.Embedding);
        var layers = p.Layers.Select(l => new WeightStorage.StoredLayer(Materialise(l[0]),
            Stored(l[1]), Stored(l[2]), Stored(l[3]), Stored(l[4]), Materialise(l[5]), Stored(l[6]), Stored(l[7]), Stored(l[8]))).ToArray();
        ModelConfig config = hf.ToModelConfig() with { SharedClassifier = p.Classifier is null };
        return new WeightStorage.StoredLlamaWeights(config, embedding, layers, Materialise(p.FinalNorm),
            p.Classifier is { } c ? Stored(c) : embedding, memory, source) { RotaryHalves = true };
    }

    /// <summary>A matrix as stored, in its file's row order; an fp32 copy when its data is not aligned to its element size.</summary>
    private WeightStorage.StoredMatrix Stored(Planned p)
    {
        SafetensorsTensor t = p.Tensor;
        byte* data = p.File.DataPointer(t);
        int rows = (int)t.Shape[0], cols = (int)(t.ElementCount / rows);
        WeightStorage.WeightFormat format = t.DType switch
        {
            SafetensorsDType.F16 => WeightStorage.WeightFormat.F16,
            SafetensorsDType.BF16 => WeightStorage.WeightFormat.BF16,
            _ => WeightStorage.WeightFormat.F32,
        };
        if ((nint)data % t.DType.Size() == 0)
            return new WeightStorage.StoredMatrix(data, format, rows, cols);
        WeightTensor copy = Materialise(p with { RotaryHeadDim = 0 });   // the same rows, in the same order, as fp32
        return new WeightStorage.StoredMatrix((byte*)copy.Pointer, WeightStorage.WeightFormat.F32, rows, cols);
    }

    /// <summary>
    /// Rejects tensors that mean the configuration does not describe the checkpoint (layers beyond
    /// num_hidden_layers) or that would change the output if ignored (biases). Other extra tensors,
    /// such as the <c>rotary_emb.inv_freq</c> buffers older checkpoints carry, are ignored as
    /// transformers ignores them.
    /// </summary>
    private void CheckForeignTensors()
    {
        foreach (string name in tensors.Names)
        {
            int? layer = LayerIndex(name);
            if (layer >= hf.NumHiddenLayers)
                throw new InvalidDataException($"{FileOf(name)}: tensor \"{name}\" belongs to layer {layer}, but {configPath} " +
                    $"has num_hidden_layers = {hf.NumHiddenLayers}; the configuration does not describe these weights");
            if (name.EndsWith(".bias", StringComparison.Ordinal) && (layer is not null || name.StartsWith("lm_head.", StringComparison.Ordinal)))
                throw new NotSupportedException($"{FileOf(name)}: tensor \"{name}\" is a bias; Llama projections with biases are not supported");
        }
    }

    /// <summary>Finds a tensor and checks its dtype and its shape <c>[rows]</c> or <c>[rows, cols]</c>.</summary>
    private Planned Plan(string name, int rows, int? cols, string meaning)
    {
        long[] expected = cols is int c ? [rows, c] : [rows];
        string expectedText = $"{SafetensorsTensor.FormatShape(expected)} ({meaning})";
        if (!tensors.TryGet(name, out SafetensorsFile file, out SafetensorsTensor tensor))
            throw new InvalidDataException($"{tensors.Description}: tensor \"{name}\" is missing; {configPath} implies shape {expectedText}");
        if (tensor.DType is not (SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16))
            throw new NotSupportedException($"{file.Path}: tensor \"{name}\" has dtype {tensor.DType.Name()}; only F32, F16 and BF16 weights can be loaded");
        if (!tensor.Shape.SequenceEqual(expected))
            throw new InvalidDataException($"{file.Path}: tensor \"{name}\" has shape {tensor.ShapeText}; {configPath} implies {expectedText}");
        return new Planned(file, tensor);
    }

    private string FileOf(string name) => tensors.TryGet(name, out SafetensorsFile file, out _) ? file.Path : tensors.Description;

    /// <summary>A view of the mapping when the tensor is usable as stored, else a converted buffer.</summary>
    private WeightTensor Materialise(Planned p)
    {
        SafetensorsTensor t = p.Tensor;
        byte* source = p.File.DataPointer(t);
        int count = (int)t.ElementCount; // the shape check bounded it by the configuration's limits
        // fp32 is used in place unless the data sits off a 4-byte boundary: the header's length is
        // arbitrary, so the format allows that, and a float* should point at an aligned float.
        if (t.DType == SafetensorsDType.F32 && p.RotaryHeadDim == 0 && (nint)source % sizeof(float) == 0)
            return new WeightTensor((float*)source, count);

        WeightTensor buffer = memory.Allocate(count);
        var destination = new Span<float>(buffer.Pointer, count);
        if (p.RotaryHeadDim == 0)
        {
            Widen(source, t.DType, destination);
            return buffer;
        }
        int rows = (int)t.Shape[0], cols = count / rows;
        long rowBytes = (long)cols * t.DType.Size();
        for (int r = 0; r < rows; r++)
            Widen(source + RotaryRows.HuggingFaceRow(r, p.RotaryHeadDim) * rowBytes, t.DType, destination.Slice(r * cols, cols));
        return buffer;
    }

    /// <summary>Converts <c>destination.Length</c> stored elements at <paramref name="source"/> to fp32.</summary>
    private static void Widen(byte* source, SafetensorsDType dtype, Span<float> destination)
    {
        if (dtype == SafetensorsDType.F32)
        {
            fixed (float* d = destination)
                Buffer.MemoryCopy(source, d, (long)destination.Length * sizeof(float), (long)destination.Length * sizeof(float));
            return;
        }
        if ((nint)source % sizeof(ushort) != 0)
        {
            WidenUnaligned(source, dtype, destination);
            return;
        }
        WidenHalves(new ReadOnlySpan<ushort>(source, destination.Length), dtype, destination);
    }

    /// <summary>Widens 16-bit values at an odd address by first copying them, a chunk at a time, to aligned memory.</summary>
    private static void WidenUnaligned(byte* source, SafetensorsDType dtype, Span<float> destination)
    {
        Span<ushort> chunk = stackalloc ushort[1024];
        for (int done = 0; done < destination.Length; done += chunk.Length)
        {
            int n = Math.Min(chunk.Length, destination.Length - done);
            new ReadOnlySpan<byte>(source + (long)done * sizeof(ushort), n * sizeof(ushort))
                .CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(chunk));
            WidenHalves(chunk[..n], dtype, destination.Slice(done, n));
        }
    }

    private static void WidenHalves(ReadOnlySpan<ushort> halves, SafetensorsDType dtype, Span<float> destination)
    {
        if (dtype == SafetensorsDType.F16) HalfPrecision.WidenF16(halves, destination);
        else HalfPrecision.WidenBf16(halves, destination);
    }
}
