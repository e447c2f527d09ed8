using System.Collections.Concurrent;
using MlPipelines.Pipelines.Onnx;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// Which model a transform runs, and on which engine. A reference by path can be saved with a
/// pipeline (the files are recorded with their sha256, never copied); a reference to an already
/// loaded model is for in-process use only.
/// </summary>
public sealed class LlamaModelReference
{
    private static readonly ConcurrentDictionary<string, Lazy<LoadedModel>> Cache = new();
    private readonly LoadedModel? _instance;

    private LlamaModelReference(EngineKind engine, string? model, string? tokenizer, OnnxEngineOptions? onnx, LoadedModel? instance)
    {
        Engine = engine;
        ModelPath = model;
        TokenizerPath = tokenizer;
        OnnxOptions = onnx ?? new OnnxEngineOptions();
        _instance = instance;
    }

    /// <summary>The managed engine on a checkpoint (path or model name; null = the default model).</summary>
    public static LlamaModelReference Managed(string? model = null, string? tokenizer = null) =>
        new(EngineKind.Managed, model, tokenizer, null, null);

    /// <summary>ONNX Runtime on a directory written by <c>mlpipe export</c>.</summary>
    public static LlamaModelReference Onnx(string exportDirectory, OnnxEngineOptions? options = null, string? tokenizer = null) =>
        new(EngineKind.Onnx, exportDirectory ?? throw new ArgumentNullException(nameof(exportDirectory)), tokenizer, options, null);

    /// <summary>An already loaded model (not saveable with a pipeline; the caller keeps ownership).</summary>
    public static LlamaModelReference FromLoaded(LoadedModel model) =>
        new(model.Model is OnnxLanguageModel ? EngineKind.Onnx : EngineKind.Managed, null, null, null,
            model ?? throw new ArgumentNullException(nameof(model)));

    /// <summary>The engine.</summary>
    public EngineKind Engine { get; }

    /// <summary>The model path or name as given (null for the default model or a loaded instance).</summary>
    public string? ModelPath { get; }

    /// <summary>The tokenizer path as given (null: the model's own).</summary>
    public string? TokenizerPath { get; }

    /// <summary>ONNX Runtime settings (ignored by the managed engine).</summary>
    public OnnxEngineOptions OnnxOptions { get; }

    /// <summary>True when this reference names files and can therefore be saved with a pipeline.</summary>
    public bool IsSaveable => _instance is null;

    /// <summary>
    /// The loaded model. Path references are loaded once per process and shared by every transform
    /// that names the same files with the same settings.
    /// </summary>
    public LoadedModel Open()
    {
        if (_instance is not null) return _instance;
        string key = $"{Engine}|{ModelPath}|{TokenizerPath}|{OnnxOptions}";
        Lazy<LoadedModel> lazy = Cache.GetOrAdd(key, _ => new Lazy<LoadedModel>(
            () => LanguageModels.Open(ModelPath, TokenizerPath, Engine, OnnxOptions), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Cache.TryRemove(new KeyValuePair<string, Lazy<LoadedModel>>(key, lazy));   // let a fixed file load next time
            throw;
        }
    }

    /// <inheritdoc />
    public override string ToString() => _instance is not null ? $"{Engine} (loaded instance)" : $"{Engine}: {ModelPath ?? "default model"}";
}
