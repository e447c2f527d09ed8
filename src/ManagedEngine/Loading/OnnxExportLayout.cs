using System.Text.Json;
using MlPipelines.ManagedEngine.Formats.Safetensors;

namespace MlPipelines.ManagedEngine.Loading;

/// <summary>
/// Where the decoder graph of an ONNX export lies, in the layouts the tools that make them write: this project's
/// (<c>mlpipe.json</c> beside <c>model.onnx</c>), onnxruntime-genai's builder (<c>genai_config.json</c> naming the decoder
/// file), Hugging Face Optimum (<c>model.onnx</c>; <c>decoder_model_merged.onnx</c> or <c>decoder_with_past_model.onnx</c>
/// from older versions) and the Hugging Face Hub's (<c>config.json</c> and the tokenizer at the top, the graphs in
/// <c>onnx/</c>). Found by file names only, so <see cref="ModelSource"/> can tell an export from a checkpoint without
/// ONNX Runtime.
/// </summary>
public static class OnnxExportLayout
{
    /// <summary>onnxruntime-genai's configuration file, which names the decoder file.</summary>
    public const string GenAiConfigFileName = "genai_config.json";

    /// <summary>The folder the Hugging Face Hub's ONNX repositories keep their graphs in.</summary>
    public const string HubOnnxFolder = "onnx";

    /// <summary>
    /// The decoder file names other exporters use, in the order they are tried: Optimum's current single graph, then its
    /// older merged graph (with and without past in one, switched by <c>use_cache_branch</c>), then its older with-past graph.
    /// </summary>
    public static IReadOnlyList<string> DecoderFileNames { get; } = ["model.onnx", "decoder_model_merged.onnx", "decoder_with_past_model.onnx"];

    /// <summary>The largest <c>genai_config.json</c> read (its size is checked before it is read).</summary>
    public const long MaxGenAiConfigBytes = 1 << 20;

    /// <summary>Whether <paramref name="path"/> is an <c>.onnx</c> file or a directory holding an export in one of these layouts.</summary>
    public static bool IsExport(string path)
    {
        if (File.Exists(path))
            return path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);
        if (!Directory.Exists(path))
            return false;
        if (File.Exists(Path.Combine(path, ModelSource.ExportManifestFileName)) || File.Exists(Path.Combine(path, GenAiConfigFileName)))
            return true;
        string hub = Path.Combine(path, HubOnnxFolder);
        return Directory.EnumerateFiles(path, "*.onnx").Any() || (Directory.Exists(hub) && Directory.EnumerateFiles(hub, "*.onnx").Any());
    }

    /// <summary>
    /// The decoder file of <paramref name="path"/>: the file itself when it is one; in a directory, <c>model.onnx</c> beside
    /// <c>mlpipe.json</c>, the file <c>genai_config.json</c> names, the first of <see cref="DecoderFileNames"/> present, the
    /// same in <c>onnx/</c>, or the only <c>.onnx</c> file there is.
    /// </summary>
    /// <exception cref="FileNotFoundException">No decoder file is there; the message says what was looked for.</exception>
    /// <exception cref="InvalidDataException">
    /// Several graphs and no rule to choose between them (the message lists them: name one), or a <c>genai_config.json</c>
    /// that names no file or one outside the directory.
    /// </exception>
    public static string FindDecoder(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        if (File.Exists(full))
            return full;
        if (!Directory.Exists(full))
            throw new FileNotFoundException($"'{full}' does not exist; expected an ONNX export directory or an .onnx file.", full);
        if (File.Exists(Path.Combine(full, ModelSource.ExportManifestFileName)))
            return Path.Combine(full, DecoderFileNames[0]);
        string genAiConfig = Path.Combine(full, GenAiConfigFileName);
        if (File.Exists(genAiConfig))
            return GenAiDecoder(genAiConfig, full);
        string hub = Path.Combine(full, HubOnnxFolder);
        foreach (string directory in new[] { full, hub }.Where(Directory.Exists))
        {
            if (DecoderFileNames.Select(name => Path.Combine(directory, name)).FirstOrDefault(File.Exists) is { } named)
                return named;
            string[] graphs = Directory.GetFiles(directory, "*.onnx").Order(StringComparer.Ordinal).ToArray();
            if (graphs.Length == 1)
                return graphs[0];
            if (graphs.Length > 1)
                throw new InvalidDataException(
                    $"'{directory}' holds {graphs.Length} ONNX graphs ({string.Join(", ", graphs.Select(Path.GetFileName))}) and none of the usual " +
                    $"decoder names ({string.Join(", ", DecoderFileNames)}); name the decoder file itself.");
        }
        throw new FileNotFoundException(
            $"'{full}' holds no ONNX decoder: expected {ModelSource.ExportManifestFileName} (`mlpipe export`), {GenAiConfigFileName} " +
            $"(onnxruntime-genai), or one of {string.Join(", ", DecoderFileNames)} (Optimum), there or in {HubOnnxFolder}/.", full);
    }

    /// <summary>
    /// The directory holding the configuration of the export whose decoder is <paramref name="decoderFile"/>: the decoder's
    /// own, or its parent when the decoder sits in the Hub's <c>onnx/</c> folder with <c>config.json</c> above it.
    /// </summary>
    public static string ConfigurationDirectory(string decoderFile)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(decoderFile))!;
        if (File.Exists(Path.Combine(directory, HuggingFaceCheckpoint.ConfigFileName)) || File.Exists(Path.Combine(directory, GenAiConfigFileName))
            || File.Exists(Path.Combine(directory, ModelSource.ExportManifestFileName)))
            return directory;
        string? parent = Path.GetDirectoryName(directory);
        return Path.GetFileName(directory) == HubOnnxFolder && parent is not null && File.Exists(Path.Combine(parent, HuggingFaceCheckpoint.ConfigFileName))
            ? parent
            : directory;
    }

    // genai_config.json's model.decoder.filename: a file in the same directory (a path elsewhere is refused, so a
    // downloaded configuration cannot point the loader at an arbitrary file).
    private static string GenAiDecoder(string genAiConfig, string directory)
    {
        using JsonDocument document = SmallJsonFile.ReadObject(genAiConfig, MaxGenAiConfigBytes, "an onnxruntime-genai configuration");
        var root = new ConfigFields(document.RootElement, genAiConfig);
        string? name = root.OptionalObject("model")?.OptionalObject("decoder")?.OptionalString("filename");
        if (string.IsNullOrEmpty(name))
            throw new InvalidDataException($"{genAiConfig}: model.decoder.filename is missing; expected the decoder's file name.");
        if (name != Path.GetFileName(name) || name is "." or "..")
            throw new InvalidDataException($"{genAiConfig}: model.decoder.filename = \"{name}\"; expected a file name in the same directory.");
        string file = Path.Combine(directory, name);
        return File.Exists(file)
            ? file
            : throw new FileNotFoundException($"{genAiConfig} names the decoder '{name}', which is not in '{directory}'.", file);
    }
}
