using System.Buffers.Binary;
using System.Text.Json;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Quantization;

namespace MlPipelines.ManagedEngine.Loading;

/// <summary>
/// Where a model's weights are and in which format: the one entry point every command, engine and the
/// exporter use, so a llama2.c file, a Hugging Face directory and a GGUF file are all accepted wherever
/// a model is named.
/// </summary>
/// <remarks>
/// Detection looks at content, not names: a file starting with <c>GGUF</c> is GGUF; one starting with
/// llama2.c's <c>ak42</c> magic is a versioned llama2.c export; any other file is read as a legacy
/// llama2.c checkpoint (whose reader checks the header against the file length). A directory is a
/// Hugging Face model when it holds <c>config.json</c> and <c>model.safetensors</c> (or
/// <c>model.safetensors.index.json</c>); otherwise it must hold <c>{directory name}.bin</c>,
/// <c>model.bin</c> or exactly one <c>.gguf</c> file. A <c>.safetensors</c> or <c>config.json</c> path
/// stands for its directory.
/// </remarks>
/// <param name="Path">The file (llama2.c, GGUF) or directory (Hugging Face) the weights are read from.</param>
/// <param name="Format">The format found there.</param>
public sealed record ModelSource(string Path, ModelFormat Format)
{
    /// <summary>The manifest file that marks a directory written by the exporter (<see cref="ModelFormat.OnnxExport"/>).</summary>
    public const string ExportManifestFileName = "mlpipe.json";

    /// <summary>Detects the format of an existing file or directory.</summary>
    /// <exception cref="FileNotFoundException">The path does not exist, or a directory holds no model.</exception>
    /// <exception cref="InvalidDataException">A directory holds several GGUF files, so which one is meant is unclear.</exception>
    public static ModelSource Detect(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        if (File.Exists(full))
        {
            string name = System.IO.Path.GetFileName(full);
            if (name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || name == HuggingFaceCheckpoint.ConfigFileName
                || name.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase))
                return new ModelSource(System.IO.Path.GetDirectoryName(full)!, ModelFormat.HuggingFace);
            if (name.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
                return new ModelSource(full, ModelFormat.OnnxExport);
            return new ModelSource(full, FileFormat(full));
        }
        if (!Directory.Exists(full))
            throw new FileNotFoundException($"'{full}' does not exist; expected a model file or directory.", full);
        if (HuggingFaceCheckpoint.IsModelDirectory(full))
            return new ModelSource(full, ModelFormat.HuggingFace);
        if (File.Exists(System.IO.Path.Combine(full, ExportManifestFileName)))
            return new ModelSource(full, ModelFormat.OnnxExport);

        string dirName = System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(full));
        foreach (string candidate in new[] { dirName + ".bin", "model.bin" })
        {
            string file = System.IO.Path.Combine(full, candidate);
            if (File.Exists(file))
                return new ModelSource(file, FileFormat(file));
        }
        string[] ggufs = Directory.GetFiles(full, "*.gguf");
        if (ggufs.Length == 1)
            return new ModelSource(ggufs[0], ModelFormat.Gguf);
        if (ggufs.Length > 1)
            throw new InvalidDataException($"Directory '{full}' holds {ggufs.Length} GGUF files ({string.Join(", ", ggufs.Select(System.IO.Path.GetFileName))}); name one of them.");
        // Another tool's ONNX export (Optimum, onnxruntime-genai's builder, the Hub's onnx/ folder): the ONNX engine runs it.
        if (OnnxExportLayout.IsExport(full))
            return new ModelSource(full, ModelFormat.OnnxExport);
        throw new FileNotFoundException(
            $"Directory '{full}' holds no model: expected config.json with model.safetensors (Hugging Face), '{dirName}.bin' or " +
            "'model.bin' (llama2.c), one .gguf file, or an ONNX export.", full);
    }

    /// <summary>
    /// The files that make up the model, for fingerprints and caches: the checkpoint file; or for a Hugging Face
    /// directory <c>config.json</c> plus the weight file(s) (the index and every shard it names).
    /// </summary>
    public IReadOnlyList<string> Files()
    {
        if (Format == ModelFormat.OnnxExport)
            return Directory.GetFiles(File.Exists(Path) ? System.IO.Path.GetDirectoryName(Path)! : Path).Order(StringComparer.Ordinal).ToList();
        if (Format != ModelFormat.HuggingFace)
            return [Path];
        var files = new List<string> { System.IO.Path.Combine(Path, HuggingFaceCheckpoint.ConfigFileName) };
        string single = System.IO.Path.Combine(Path, "model.safetensors");
        if (File.Exists(single))
        {
            files.Add(single);
            return files;
        }
        string index = System.IO.Path.Combine(Path, "model.safetensors.index.json");
        files.Add(index);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(index));
            if (doc.RootElement.TryGetProperty("weight_map", out var map) && map.ValueKind == JsonValueKind.Object)
                files.AddRange(map.EnumerateObject().Select(p => p.Value.GetString()).OfType<string>().Distinct(StringComparer.Ordinal)
                    .Order(StringComparer.Ordinal).Select(shard => System.IO.Path.Combine(Path, shard)));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)   // the latter: a shard name that is not a string
        {
            throw new InvalidDataException($"{index}: not valid JSON ({e.Message}); expected a safetensors index with a weight_map of file names.", e);
        }
        return files;
    }

    /// <summary>The model's configuration, read without converting any weights.</summary>
    /// <exception cref="InvalidDataException">The model is malformed.</exception>
    public ModelConfig ReadConfig()
    {
        switch (Format)
        {
            case ModelFormat.HuggingFace:
                return HuggingFaceConfig.Load(System.IO.Path.Combine(Path, HuggingFaceCheckpoint.ConfigFileName)).ToModelConfig();
            case ModelFormat.Gguf:
                using (var file = GgufFile.Open(Path))
                    return GgufLlamaConfig.Read(file);
            case ModelFormat.Llama2cInt8:
                using (var quantized = Llama2cQ80Checkpoint.Load(Path))
                    return quantized.Config;
            case ModelFormat.OnnxExport:
                throw ExportHoldsNoWeights();
            default:
                using (var weights = Llama2cCheckpoint.Load(Path))  // a mapping: no weight is read
                    return weights.Config;
        }
    }

    /// <summary>
    /// Loads the fp32 weights: llama2.c files and fp32 safetensors/GGUF tensors stay memory-mapped; F16, BF16 and
    /// Q8_0 tensors are converted once. Dispose the weights to release them.
    /// </summary>
    /// <exception cref="InvalidDataException">The model is malformed.</exception>
    /// <exception cref="NotSupportedException">An int8 llama2.c checkpoint (it holds no fp32 weights; the managed
    /// engine runs it through <see cref="ManagedModelLoader.LoadModel(ResolvedModel, int, bool, Inference.KvCacheFormat)"/>), or a model variant the engine does not implement.</exception>
    public LlamaWeights LoadWeights() => Format switch
    {
        ModelFormat.HuggingFace => HuggingFaceCheckpoint.Load(Path),
        ModelFormat.Gguf => GgufCheckpoint.Load(Path),
        ModelFormat.OnnxExport => throw ExportHoldsNoWeights(),
        ModelFormat.Llama2cInt8 => throw new NotSupportedException(
            $"{Path} is an int8 (Q8_0) llama2.c checkpoint: it holds no fp32 weights to export or compare. Use the fp32 checkpoint it was made from."),
        _ => Llama2cCheckpoint.Load(Path),
    };

    /// <summary>True when the model file carries its own tokenizer (GGUF).</summary>
    public bool HasEmbeddedTokenizer => Format == ModelFormat.Gguf;

    private NotSupportedException ExportHoldsNoWeights() => new(
        $"'{Path}' is an ONNX export: it holds a graph, not a checkpoint. Run it on the ONNX Runtime engine, or name the model it was exported from.");

    private static ModelFormat FileFormat(string file)
    {
        Span<byte> magic = stackalloc byte[8];
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1))
        {
            if (stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) < 8)
                return ModelFormat.Llama2c; // too short for anything; the llama2.c reader explains what is missing
        }
        if (magic[..4].SequenceEqual(GgufFile.MagicBytes))
            return ModelFormat.Gguf;
        if (BinaryPrimitives.ReadUInt32LittleEndian(magic) == Llama2cCheckpoint.VersionedMagic && BinaryPrimitives.ReadInt32LittleEndian(magic[4..]) == 2)
            return ModelFormat.Llama2cInt8;
        return ModelFormat.Llama2c; // version 0, or a versioned file whose reader says what is unsupported
    }
}
