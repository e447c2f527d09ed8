using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.IO;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// Saves and loads fitted pipelines that contain LLaMA transforms, as one file.
/// <para>
/// ML.NET's <c>mlContext.Model.Save/Load</c> can only load transformers it has registered itself (the
/// registration is internal), and its public <c>CustomMapping</c> route cannot carry per-instance
/// settings such as a model path or a pooling choice. So this wraps ML.NET's own persistence: the
/// file is a zip holding one entry per pipeline stage — ML.NET stages saved by ML.NET, LLaMA stages
/// as their settings — plus the input schema. Model weights are never copied: each model file is
/// recorded by absolute path and sha256, and a moved or changed file is a clear error on load.
/// </para>
/// </summary>
public static class LlamaPipelineModel
{
    private const string ManifestEntry = "mlpipe-pipeline.json";
    private const int FormatVersion = 1;

    /// <summary>Saves <paramref name="model"/> (fitted on data of <paramref name="inputSchema"/>) to <paramref name="path"/>.</summary>
    /// <exception cref="NotSupportedException">A LLaMA stage uses a loaded model instance rather than files.</exception>
    public static void Save(MLContext mlContext, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentException.ThrowIfNullOrEmpty(path);

        ManagedEngine.IO.AtomicFileWriter.Write(path, overwrite: true, stream =>
        {
            using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
            {
                var stages = new JsonArray();
                DataViewSchema schema = inputSchema;
                int index = 0;
                // The empty chain's schema is the input schema, saved by ML.NET.
                WriteEntry(zip, "input-schema.mlnet", s => mlContext.Model.Save(new TransformerChain<ITransformer>(), inputSchema, s));
                foreach (ITransformer stage in Flatten(model))
                {
                    if (stage is LlamaTransformerBase llama)
                    {
                        StageSettings settings = llama.Settings;
                        var description = new JsonObject
                        {
                            ["kind"] = settings.Kind,
                            ["options"] = settings.Options.DeepClone(),
                            ["model"] = DescribeModel(settings.Model),
                        };
                        if (settings.Candidate is { } candidate)
                            description["candidate"] = DescribeModel(candidate);
                        stages.Add(description);
                    }
                    else
                    {
                        string entry = $"stage-{index}.mlnet";
                        DataViewSchema stageInput = schema;
                        WriteEntry(zip, entry, s => mlContext.Model.Save(stage, stageInput, s));
                        stages.Add(new JsonObject { ["kind"] = "mlnet", ["entry"] = entry });
                    }
                    schema = stage.GetOutputSchema(schema);
                    index++;
                }
                var manifest = new JsonObject { ["formatVersion"] = FormatVersion, ["stages"] = stages };
                WriteEntry(zip, ManifestEntry, s => JsonSerializer.Serialize(s, manifest, StageSettings.Json));
                CopyEntries(zip, s => MLNetLoadHint.Save(mlContext, inputSchema, s));   // what ml.Model.Load finds
            }
        });
    }

    /// <summary>Loads a pipeline saved by <see cref="Save"/>.</summary>
    /// <exception cref="FileNotFoundException">The file, or a model file it records, is missing.</exception>
    /// <exception cref="InvalidDataException">The file is malformed, or a model file changed since it was saved.</exception>
    public static ITransformer Load(MLContext mlContext, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Pipeline file '{path}' does not exist.", path);
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: not a saved pipeline (not a zip archive).", e);
        }
        using (zip)
        {
            try
            {
                return Read(mlContext, zip, path, out inputSchema);
            }
            // What the manifest records is read as it is used: a value of the wrong JSON type (InvalidOperationException,
            // JsonException), options a transform refuses (the ArgumentException family), a model name that resolves to
            // nothing. Each is a malformed pipeline file, reported with the file's name.
            catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException or FormatException
                                       || e is InvalidDataException && !e.Message.Contains(path, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{path}: not a valid saved pipeline ({e.Message})", e);
            }
            catch (FileNotFoundException e) when (!e.Message.Contains(path, StringComparison.Ordinal))
            {
                throw new FileNotFoundException($"{path}: {e.Message}", e.FileName, e);
            }
        }
    }

    private static TransformerChain<ITransformer> Read(MLContext mlContext, ZipArchive zip, string path, out DataViewSchema inputSchema)
    {
        JsonNode manifest = ReadManifest(zip, path);
        mlContext.Model.Load(Entry(zip, "input-schema.mlnet", path), out inputSchema);
        var stages = new List<ITransformer>();
        foreach (JsonNode? stage in manifest["stages"]?.AsArray() ?? throw new InvalidDataException($"{path}: the manifest lists no stages."))
        {
            string kind = stage?["kind"]?.GetValue<string>() ?? throw new InvalidDataException($"{path}: a stage has no kind.");
            if (kind == "mlnet")
            {
                string entry = stage!["entry"]?.GetValue<string>() ?? throw new InvalidDataException($"{path}: an ML.NET stage names no entry.");
                stages.Add(mlContext.Model.Load(Entry(zip, entry, path), out _));
            }
            else
            {
                LlamaModelReference model = VerifyModel(stage!["model"] ?? throw new InvalidDataException($"{path}: stage '{kind}' records no model."), path);
                LlamaModelReference? candidate = stage["candidate"] is { } c ? VerifyModel(c, path) : null;
                stages.Add(StageSettings.Create(kind, stage["options"] ?? new JsonObject(), model, candidate));
            }
        }
        return new TransformerChain<ITransformer>([.. stages]);
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer model) =>
        model is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [model];

    private static void WriteEntry(ZipArchive zip, string name, Action<Stream> write)
    {
        // ML.NET's Save reads back what it writes, so go through a seekable buffer.
        using var buffer = new MemoryStream();
        write(buffer);
        using Stream entry = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
        buffer.Position = 0;
        buffer.CopyTo(entry);
    }

    /// <summary>Copies every entry of the ML.NET model zip that <paramref name="write"/> produces into <paramref name="zip"/>.</summary>
    private static void CopyEntries(ZipArchive zip, Action<Stream> write)
    {
        using var buffer = new MemoryStream();
        write(buffer);
        buffer.Position = 0;
        using var model = new ZipArchive(buffer, ZipArchiveMode.Read);
        foreach (ZipArchiveEntry source in model.Entries)
        {
            using Stream from = source.Open(), to = zip.CreateEntry(source.FullName, CompressionLevel.Fastest).Open();
            from.CopyTo(to);
        }
    }

    private static MemoryStream Entry(ZipArchive zip, string name, string path)
    {
        ZipArchiveEntry entry = zip.GetEntry(name) ?? throw new InvalidDataException($"{path}: missing entry '{name}'.");
        var buffer = new MemoryStream();
        using (Stream s = entry.Open()) s.CopyTo(buffer);
        buffer.Position = 0;
        return buffer;
    }

    private static JsonNode ReadManifest(ZipArchive zip, string path)
    {
        JsonNode? manifest;
        try
        {
            manifest = JsonNode.Parse(Entry(zip, ManifestEntry, path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the pipeline manifest is not valid JSON: {e.Message}", e);
        }
        int version = manifest?["formatVersion"]?.GetValue<int>() ?? 0;
        if (version != FormatVersion)
            throw new InvalidDataException($"{path}: pipeline format version {version} is not supported (expected {FormatVersion}).");
        return manifest!;
    }

    // ---- model files: recorded by absolute path and content identity (sha256, see FileIdentity) ----

    private static JsonObject DescribeModel(LlamaModelReference model)
    {
        if (!model.IsSaveable)
            throw new NotSupportedException(
                "A LLaMA stage uses a model passed as a loaded instance; to save the pipeline, reference the model by path " +
                "(LlamaModelReference.Managed or LlamaModelReference.Onnx).");
        ResolvedModel resolved = model.Model!;
        var recorded = new JsonArray();
        foreach (string file in resolved.Files.Concat(resolved.TokenizerFile is { } t ? [t] : []).Distinct(StringComparer.Ordinal))
            recorded.Add(new JsonObject { ["path"] = Path.GetFullPath(file), ["sha256"] = FileIdentity.Sha256(file) });
        return new JsonObject
        {
            ["engine"] = model.Engine.ToString(),
            ["path"] = resolved.Path,
            ["tokenizer"] = resolved.TokenizerGiven ? resolved.TokenizerFile : null,
            ["options"] = JsonSerializer.SerializeToNode(model.Options, StageSettings.Json),
            ["files"] = recorded,
        };
    }

    private static LlamaModelReference VerifyModel(JsonNode node, string pipelinePath)
    {
        foreach (JsonNode? file in node["files"]?.AsArray() ?? [])
        {
            string recordedPath = file?["path"]?.GetValue<string>() ?? throw new InvalidDataException($"{pipelinePath}: a model file entry has no path.");
            string expected = file!["sha256"]?.GetValue<string>() ?? "";
            if (!File.Exists(recordedPath))
                throw new FileNotFoundException(
                    $"The pipeline in '{pipelinePath}' uses the model file '{recordedPath}', which no longer exists (moved or deleted?).", recordedPath);
            string actual = FileIdentity.Sha256(recordedPath);
            if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException(
                    $"The model file '{recordedPath}' has changed since the pipeline in '{pipelinePath}' was saved (sha256 {actual}, expected {expected}).");
        }
        string engine = node["engine"]?.GetValue<string>() ?? "";
        string path = node["path"]?.GetValue<string>() ?? throw new InvalidDataException($"{pipelinePath}: a model reference has no path.");
        string? tokenizer = node["tokenizer"]?.GetValue<string>();
        // "onnx" is where pipelines saved before the engines shared one options type kept ONNX Runtime's settings.
        EngineOptions? options = (node["options"] ?? node["onnx"])?.Deserialize<EngineOptions>(StageSettings.Json);
        return Enum.TryParse(engine, out EngineKind kind) && kind == EngineKind.Onnx
            ? LlamaModelReference.Onnx(path, options, tokenizer)
            : LlamaModelReference.Managed(path, tokenizer, options);
    }
}
