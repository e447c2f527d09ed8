using System.CommandLine;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Sampling;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// The sampling flags of <c>generate</c> and <c>chat</c>. A flag given on the command line wins; one left out takes the
/// model's own choice from its <c>generation_config.json</c> (a Hugging Face directory), else the command's default.
/// </summary>
internal sealed class SamplingArguments
{
    // Parsed as double and narrowed, as run.c's atof does, so "0.9" becomes the same float.
    private readonly Option<double> _temperature;
    private readonly Option<double> _topP;
    private readonly Option<int> _topK = new("--top-k") { Description = "Sample among the k most likely tokens; 0 disables it." };
    private readonly Option<long> _seed;

    public SamplingArguments(double defaultTemperature, string seedDescription)
    {
        _temperature = new Option<double>("--temperature", "-t")
        {
            Description = $"Sampling temperature; 0 = greedy (default: the model's generation_config.json, else {defaultTemperature}).",
            DefaultValueFactory = _ => defaultTemperature,
        };
        _topP = new Option<double>("--top-p", "-p")
        {
            Description = "Nucleus sampling threshold in (0, 1); 0 or 1 disables it (default: the model's generation_config.json, else 0.9).",
            DefaultValueFactory = _ => 0.9,
        };
        _seed = new Option<long>("--seed", "-s") { Description = seedDescription };
    }

    public void AddTo(Command command)
    {
        command.Options.Add(_temperature);
        command.Options.Add(_topP);
        command.Options.Add(_topK);
        command.Options.Add(_seed);
    }

    /// <summary>The settings for <paramref name="model"/>: flags given, then its generation_config.json, then the defaults.</summary>
    public SamplingOptions Resolve(ParseResult parse, ResolvedModel? model)
    {
        ulong seed = unchecked((ulong)parse.GetValue(_seed));   // run.c keeps the seed in an unsigned 64-bit
        HuggingFaceGenerationConfig? generation = model is not null && Directory.Exists(model.Path) ? HuggingFaceGenerationConfig.Load(model.Path) : null;
        SamplingOptions fallback = generation?.ToSamplingOptions(seed) ?? new SamplingOptions
        {
            Temperature = (float)parse.GetValue(_temperature), TopP = (float)parse.GetValue(_topP), TopK = parse.GetValue(_topK), Seed = seed,
        };
        return fallback with
        {
            Temperature = Given(parse, _temperature) ? (float)parse.GetValue(_temperature) : fallback.Temperature,
            TopP = Given(parse, _topP) ? (float)parse.GetValue(_topP) : fallback.TopP,
            TopK = Given(parse, _topK) ? parse.GetValue(_topK) : fallback.TopK,
        };
    }

    private static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };
}
