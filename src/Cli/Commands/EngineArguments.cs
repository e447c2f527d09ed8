using System.CommandLine;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Cli.Commands;

/// <summary>The options that choose and configure an engine, shared by the commands that run a model.</summary>
internal sealed class EngineArguments
{
    private readonly Option<string> _engine = new("--engine")
    {
        Description = "managed (a checkpoint) or onnx (a directory written by `mlpipe export`).",
        DefaultValueFactory = _ => "managed",
    };
    private readonly Option<string> _provider = new("--provider")
    {
        Description = "ONNX Runtime execution provider: cpu, cuda or dml.",
        DefaultValueFactory = _ => "cpu",
    };
    private readonly Option<int> _device = new("--device") { Description = "GPU device id for cuda or dml." };
    private readonly Option<bool> _fallback = new("--fallback-to-cpu") { Description = "Run on the CPU when the requested provider is unavailable." };
    private readonly Option<int> _threads = new("--threads") { Description = "Threads: per session on the managed engine (default: one per core), inside an operator on ONNX Runtime (0 = its default)." };
    private readonly Option<string?> _quantize = new("--quantize") { Description = "Managed engine: quantise the weights on load (q8_0)." };
    private readonly Option<string?> _kv = new("--kv") { Description = "Managed engine: KV cache precision, f32 (default) or f16 (half the memory)." };

    public EngineArguments()
    {
        _engine.AcceptOnlyFromAmong("managed", "onnx");
        _provider.AcceptOnlyFromAmong("cpu", "cuda", "dml");
        _quantize.AcceptOnlyFromAmong("q8_0", "none");
        _kv.AcceptOnlyFromAmong("f32", "f16");
    }

    public void AddTo(Command command)
    {
        command.Add(_engine);
        command.Add(_provider);
        command.Add(_device);
        command.Add(_fallback);
        command.Add(_threads);
        command.Add(_quantize);
        command.Add(_kv);
    }

    /// <summary>The engine and its options as the flags give them; library errors name these flags' properties.</summary>
    public (EngineKind Engine, EngineOptions Options) Read(ParseResult parse)
    {
        EngineKind engine = parse.GetValue(_engine) == "onnx" ? EngineKind.Onnx : EngineKind.Managed;
        var options = new EngineOptions
        {
            Provider = ParseProvider(parse.GetValue(_provider)),
            DeviceId = parse.GetValue(_device),
            FallbackToCpu = parse.GetValue(_fallback),
            Threads = parse.GetValue(_threads),
            Quantize = parse.GetValue(_quantize) == "q8_0",
            KvCache = parse.GetValue(_kv) == "f16" ? MlPipelines.ManagedEngine.Inference.KvCacheFormat.F16 : MlPipelines.ManagedEngine.Inference.KvCacheFormat.F32,
        };
        if (engine == EngineKind.Managed && options.Provider != ExecutionProvider.Cpu)
            throw new ArgumentException("--provider applies to --engine onnx; the managed engine runs on the CPU.");
        if (engine == EngineKind.Onnx && options.Quantize)
            throw new ArgumentException("--quantize applies to the managed engine; export an int8 model for ONNX Runtime instead.");
        if (engine == EngineKind.Onnx && parse.GetValue(_kv) == "f16")
            throw new ArgumentException("--kv f16 applies to the managed engine; ONNX Runtime keeps the cache the exported graph defines.");
        return (engine, options);
    }

    /// <summary>The execution provider a <c>--provider</c> value names (cpu, cuda, dml).</summary>
    public static ExecutionProvider ParseProvider(string? value) =>
        value switch { "cuda" => ExecutionProvider.Cuda, "dml" => ExecutionProvider.DirectML, _ => ExecutionProvider.Cpu };

    /// <summary>Resolves the model once and opens it on the engine the flags choose; warns about a provider fallback.</summary>
    public LoadedModel Open(ParseResult parse, CliConsole console, string? model, string? tokenizer) =>
        Open(parse, console, ResolvedModel.Resolve(model, tokenizer));

    /// <summary>Opens an already resolved model on the engine the flags choose; warns about a provider fallback.</summary>
    public LoadedModel Open(ParseResult parse, CliConsole console, ResolvedModel model)
    {
        var (engine, options) = Read(parse);
        LoadedModel loaded = LanguageModels.Open(model, engine, options);
        if (loaded.Model.Description.Notice is { } notice)
            console.Error.WriteLine($"mlpipe: warning: {notice}");
        return loaded;
    }
}
