using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;

namespace MlPipelines.Server;

/// <summary>
/// The fields of an OpenAI request body, each read with its type and range checked: a wrong one is a 400 naming the field.
/// Unknown fields are ignored, as OpenAI-compatible servers do, so clients that send more still work.
/// </summary>
internal sealed class RequestFields(JsonElement root)
{
    public JsonElement Root { get; } = root;

    private JsonElement? Get(string name) =>
        Root.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public string? String(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        _ => throw ApiError.BadRequest($"'{name}' must be a string.", name),
    };

    public bool Bool(string name) => Get(name) switch
    {
        null => false,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw ApiError.BadRequest($"'{name}' must be true or false.", name),
    };

    public double? Number(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v => v.GetDouble(),
        _ => throw ApiError.BadRequest($"'{name}' must be a number.", name),
    };

    public long? Integer(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt64(out long n) => n,
        _ => throw ApiError.BadRequest($"'{name}' must be an integer.", name),
    };

    /// <summary>A string, or an array of strings (OpenAI's <c>stop</c> and <c>input</c>); null when absent.</summary>
    public List<string>? Strings(string name)
    {
        switch (Get(name))
        {
            case null: return null;
            case { ValueKind: JsonValueKind.String } v: return [v.GetString()!];
            case { ValueKind: JsonValueKind.Array } v:
                var list = new List<string>();
                foreach (JsonElement item in v.EnumerateArray())
                    list.Add(item.ValueKind == JsonValueKind.String ? item.GetString()!
                        : throw ApiError.BadRequest($"'{name}' must be a string or an array of strings.", name));
                return list;
            default: throw ApiError.BadRequest($"'{name}' must be a string or an array of strings.", name);
        }
    }

    /// <summary>Checks <c>model</c> against the served id: a different one is OpenAI's 404 <c>model_not_found</c>; absent means the served one.</summary>
    public void CheckModel(string served)
    {
        string? model = String("model");
        if (model is not null && model != served)
            throw new ApiError(StatusCodes.Status404NotFound, $"The model '{model}' does not exist; this server serves '{served}'.", "model", "model_not_found");
    }

    /// <summary>
    /// The sampling fields as <see cref="ChatOptions"/>: temperature (≥ 0), top_p (in (0, 1]), max_tokens or
    /// max_completion_tokens (≥ 1), seed, stop (a string or an array of strings). Only one choice (n = 1) is served.
    /// </summary>
    public ChatOptions ChatOptions(string modelId)
    {
        var options = new ChatOptions { ModelId = modelId };
        if (Number("temperature") is double temperature)
        {
            if (temperature < 0 || double.IsNaN(temperature))
                throw ApiError.BadRequest($"'temperature' is {temperature}; it must be ≥ 0.", "temperature", "invalid_value");
            options.Temperature = (float)temperature;
        }
        if (Number("top_p") is double topP)
        {
            if (!(topP > 0 && topP <= 1))
                throw ApiError.BadRequest($"'top_p' is {topP}; it must be in (0, 1].", "top_p", "invalid_value");
            options.TopP = (float)topP;
        }
        foreach (string name in (string[])["max_tokens", "max_completion_tokens"])
            if (Integer(name) is long max)
            {
                if (max < 1 || max > int.MaxValue)
                    throw ApiError.BadRequest($"'{name}' is {max}; it must be ≥ 1.", name, "invalid_value");
                options.MaxOutputTokens = (int)max;
            }
        if (Integer("n") is long n && n != 1)
            throw ApiError.BadRequest($"'n' is {n}; this server generates one choice per request.", "n", "invalid_value");
        options.Seed = Integer("seed");
        if (Strings("stop") is { } stops) options.StopSequences = stops;
        return options;
    }
}
