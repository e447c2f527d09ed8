using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// Which model a transform runs, and on which engine. A reference by path can be saved with a
/// pipeline (the files are recorded with their sha256, never copied); a reference to an already
/// loaded model is for in-process use only.
/// </summary>
public sealed class LlamaModelReference
{
    private readonly LoadedModel? _instance;

    private LlamaModelReference(EngineKind engine, ResolvedModel? model, EngineOptions? options, LoadedModel? instance, LlamaModelCache? cache = null)
    {
        Cache = cache ?? LlamaModelCache.Shared;
        Engine = engine;
        Model = model;
        Options = options ?? new EngineOptions();
        Options.Validate(engine);
        _instance = instance;
    }

    /// <summary>
    /// The managed engine on a model (path, model name or Hub id; null = the default model), found now, once.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="tokenizer">A tokenizer file (null: the model's own).</param>
    /// <param name="options">Threads and int8 quantisation (see <see cref="EngineOptions"/>).</param>
    /// <exception cref="FileNotFoundException">The model or tokenizer cannot be found.</exception>
    public static LlamaModelReference Managed(string? model = null, string? tokenizer = null, EngineOptions? options = null) =>
        new(EngineKind.Managed, ResolvedModel.Resolve(model, tokenizer), options, null);

    /// <summary>The managed engine on a model already resolved.</summary>
    public static LlamaModelReference Managed(ResolvedModel model, EngineOptions? options = null) =>
        new(EngineKind.Managed, model ?? throw new ArgumentNullException(nameof(model)), options, null);

    /// <summary>
    /// ONNX Runtime on a directory written by the exporter, or on any other model (path, model name or Hub id), which
    /// is exported once into the export cache when first opened.
    /// </summary>
    /// <param name="model">The export directory or model.</param>
    /// <param name="options">Execution provider, threads (see <see cref="EngineOptions"/>).</param>
    /// <param name="tokenizer">A tokenizer file (null: the export's or the model's own).</param>
    /// <exception cref="FileNotFoundException">The model or tokenizer cannot be found.</exception>
    public static LlamaModelReference Onnx(string model, EngineOptions? options = null, string? tokenizer = null) =>
        new(EngineKind.Onnx, ResolvedModel.Resolve(model ?? throw new ArgumentNullException(nameof(model)), tokenizer), options, null);

    /// <summary>ONNX Runtime on a model already resolved.</summary>
    public static LlamaModelReference Onnx(ResolvedModel model, EngineOptions? options = null) =>
        new(EngineKind.Onnx, model ?? throw new ArgumentNullException(nameof(model)), options, null);

    /// <summary>An already loaded model (not saveable with a pipeline; the caller keeps ownership).</summary>
    public static LlamaModelReference FromLoaded(LoadedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        EngineKind engine = model.Model.Description.Engine == "managed" ? EngineKind.Managed : EngineKind.Onnx;
        return new(engine, model.Source, null, model);
    }

    /// <summary>The engine.</summary>
    public EngineKind Engine { get; }

    /// <summary>The model as resolved (null for a loaded instance).</summary>
    public ResolvedModel? Model { get; }

    /// <summary>The model's path (null for a loaded instance).</summary>
    public string? ModelPath => _instance is null ? Model?.Path : null;

    /// <summary>The tokenizer file when one was named (null: the model's own).</summary>
    public string? TokenizerPath => Model is { TokenizerGiven: true } m ? m.TokenizerFile : null;

    /// <summary>How the engine runs the model.</summary>
    public EngineOptions Options { get; }

    /// <summary>Where the loaded model is kept (default: <see cref="LlamaModelCache.Shared"/>).</summary>
    public LlamaModelCache Cache { get; }

    /// <summary>The same reference with its model kept in <paramref name="cache"/> (for example one disposed with a job).</summary>
    public LlamaModelReference WithCache(LlamaModelCache cache) =>
        new(Engine, Model, Options, _instance, cache ?? throw new ArgumentNullException(nameof(cache)));

    /// <summary>True when this reference names files and can therefore be saved with a pipeline.</summary>
    public bool IsSaveable => _instance is null;

    /// <summary>
    /// The loaded model. Path references are loaded once per <see cref="Cache"/> and shared by every transform
    /// that names the same files with the same settings.
    /// </summary>
    public LoadedModel Open()
    {
        if (_instance is not null) return _instance;
        ResolvedModel model = Model!;
        return Cache.GetOrOpen($"{Engine}|{model.Path}|{TokenizerPath}|{Options}", () => LanguageModels.Open(model, Engine, Options));
    }

    /// <inheritdoc />
    public override string ToString() => _instance is not null ? $"{Engine} (loaded instance)" : $"{Engine}: {Model}";
}
