using MlPipelines.ManagedEngine.IO;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.ManagedEngine.Loading;

/// <summary>
/// A model found once and described once: where its files are and in which format, its configuration, its tokenizer
/// file and its content identity. Every consumer (both engines, the exporter and its cache, transforms, saved
/// pipelines, jobs, benchmarks) takes this object rather than a path string, so nothing locates or reads the model
/// a second time. The configuration, tokenizer and identity are worked out on first use and kept.
/// </summary>
public sealed class ResolvedModel
{
    private readonly Lazy<ModelConfig> _config;
    private readonly Lazy<string?> _tokenizerFile;
    private readonly Lazy<string> _identity;

    private ResolvedModel(string name, ModelSource source, Func<ResolvedModel, string?> tokenizer, bool tokenizerGiven)
    {
        Name = name;
        Source = source;
        TokenizerGiven = tokenizerGiven;
        _config = new Lazy<ModelConfig>(source.ReadConfig);
        _tokenizerFile = new Lazy<string?>(() => tokenizer(this));
        _identity = new Lazy<string>(() => FileIdentity.Sha256([.. Files, .. TokenizerFile is { } t ? [t] : Array.Empty<string>()]));
    }

    /// <summary>
    /// Finds <paramref name="model"/> (null: the default model; see <see cref="ModelLocator"/>) and, when given,
    /// <paramref name="tokenizer"/> (a tokenizer file, or a model whose tokenizer is used), each looked up once.
    /// </summary>
    /// <exception cref="FileNotFoundException">The model or tokenizer cannot be found, or a directory holds no model.</exception>
    public static ResolvedModel Resolve(string? model, string? tokenizer = null)
    {
        string name = string.IsNullOrWhiteSpace(model) ? ModelLocator.DefaultModelName : model;
        ModelSource source = ModelSource.Detect(ModelLocator.Resolve(name));
        if (tokenizer is null)
            return new ResolvedModel(name, source, TokenizerBeside, tokenizerGiven: false);
        string tokenizerFile = ResolveTokenizer(tokenizer);
        return new ResolvedModel(name, source, _ => tokenizerFile, tokenizerGiven: true);
    }

    /// <summary>A model already located on disk (no name lookup), with its tokenizer found beside it unless given.</summary>
    public static ResolvedModel FromSource(ModelSource source, string? tokenizerFile = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return tokenizerFile is null
            ? new ResolvedModel(source.Path, source, TokenizerBeside, tokenizerGiven: false)
            : new ResolvedModel(source.Path, source, _ => System.IO.Path.GetFullPath(tokenizerFile), tokenizerGiven: true);
    }

    /// <summary>What the model was called when it was resolved (a name, a Hub id or a path).</summary>
    public string Name { get; }

    /// <summary>Where the weights are and in which format.</summary>
    public ModelSource Source { get; }

    /// <summary>The model file or directory.</summary>
    public string Path => Source.Path;

    /// <summary>The format.</summary>
    public ModelFormat Format => Source.Format;

    /// <summary>True when the tokenizer was named explicitly rather than found beside the model.</summary>
    public bool TokenizerGiven { get; }

    /// <summary>The files the model is read from (see <see cref="ModelSource.Files"/>).</summary>
    public IReadOnlyList<string> Files => field ??= Source.Files();

    /// <summary>How the weights are stored (<c>F32</c>, <c>F16</c>, <c>mixed (Q4_K 62%, Q6_K 38%)</c>, …), read once from the headers.</summary>
    /// <exception cref="InvalidDataException">A GGUF or safetensors header is malformed.</exception>
    public ModelWeightFormat WeightFormat => field ??= ModelWeightFormat.Of(Source);

    /// <summary>The configuration, read once without converting weights.</summary>
    /// <exception cref="InvalidDataException">The model is malformed.</exception>
    /// <exception cref="NotSupportedException">An ONNX export (its configuration is in its manifest).</exception>
    public ModelConfig Config => _config.Value;

    /// <summary>
    /// The tokenizer file: the one named, the model file itself for GGUF (which carries its vocabulary), or the first of
    /// <c>tokenizer.bin</c>, <c>tokenizer.model</c>, <c>tok{vocab}.bin</c>, <c>tok{vocab}.model</c> beside the model.
    /// Null for an ONNX export with no tokenizer named (the export carries its own).
    /// </summary>
    /// <exception cref="FileNotFoundException">No tokenizer lies beside the model.</exception>
    public string? TokenizerFile => _tokenizerFile.Value;

    /// <summary>
    /// The content identity of the model's files and tokenizer (SHA-256, see <see cref="FileIdentity"/>): equal for
    /// copies of the same files wherever they are; it changes when any of them changes.
    /// </summary>
    public string Identity => _identity.Value;

    /// <summary>
    /// Loads the tokenizer. One found beside the model is read with the model's vocabulary size (a llama2.c
    /// <c>tokenizer.bin</c> needs it); a named one is read on its own terms.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no tokenizer.</exception>
    /// <exception cref="InvalidDataException">The tokenizer file is malformed.</exception>
    public PieceTokenizer LoadTokenizer()
    {
        string file = TokenizerFile ?? throw new FileNotFoundException($"'{Path}' is an ONNX export; load its own tokenizer with the engine, or name one.", Path);
        return TokenizerLoader.Load(file, TokenizerGiven ? null : Config.VocabSize);
    }

    /// <summary>
    /// The tokenizer file <paramref name="tokenizer"/> stands for: a tokenizer file, or a model (directory or model file)
    /// whose own tokenizer is meant; looked up like a model name.
    /// </summary>
    /// <exception cref="FileNotFoundException">Nothing of that name exists, or the model has no tokenizer beside it.</exception>
    public static string ResolveTokenizerFile(string tokenizer)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenizer);
        return ResolveTokenizer(tokenizer);
    }

    /// <inheritdoc />
    public override string ToString() => Name == Path ? Path : $"{Name} ({Path})";

    // A tokenizer argument names a tokenizer file, or a model (directory or model file) whose own tokenizer is meant.
    private static string ResolveTokenizer(string tokenizer)
    {
        string resolved = ModelLocator.Resolve(tokenizer);
        if (!Directory.Exists(resolved) && !IsModelFile(resolved))
            return resolved;
        var owner = new ResolvedModel(tokenizer, ModelSource.Detect(resolved), TokenizerBeside, tokenizerGiven: false);
        return owner.TokenizerFile ?? throw new FileNotFoundException($"'{resolved}' is an ONNX export; name its tokenizer file instead.", resolved);
    }

    private static string? TokenizerBeside(ResolvedModel model)
    {
        switch (model.Format)
        {
            case ModelFormat.Gguf:
                return model.Path;
            case ModelFormat.OnnxExport:
                return null;
        }
        int vocab;
        try
        {
            vocab = model.Config.VocabSize;
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        {
            throw new InvalidDataException($"'{model.Path}' is not a readable model ({e.Message}), so its tokenizer cannot be located.", e);
        }
        return TokenizerLoader.FindBeside(model.Path, vocab)
            ?? throw new FileNotFoundException(
                $"No tokenizer beside '{model.Path}': expected tokenizer.bin, tokenizer.model, tok{vocab}.bin, tok{vocab}.model or tokenizer.json " +
                $"in {(Directory.Exists(model.Path) ? "that directory" : "the same directory")}; name the tokenizer explicitly.", model.Path);
    }

    // A model file rather than a tokenizer file: GGUF (which holds both; read as a model so its own tokenizer is used),
    // or a llama2.c checkpoint, whose header and size must agree exactly, so a tokenizer file is never mistaken for one.
    private static bool IsModelFile(string path)
    {
        try
        {
            var source = ModelSource.Detect(path);
            if (source.Format is ModelFormat.Gguf or ModelFormat.HuggingFace) return true;
            source.ReadConfig();
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        {
            return false;
        }
    }
}
