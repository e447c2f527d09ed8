using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;

namespace MlPipelines.Server;

/// <summary><c>/v1/embeddings</c> over an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>: <c>input</c> a string or strings, vectors as floats or base64.</summary>
internal sealed class EmbeddingEndpoint(IEmbeddingGenerator<string, Embedding<float>> generator, string modelId)
{
    public async Task HandleAsync(HttpContext context, RequestFields fields)
    {
        fields.CheckModel(modelId);
        List<string> input = fields.Strings("input") ?? throw ApiError.BadRequest("'input' is required: a string or an array of strings.", "input");
        if (input.Count == 0) throw ApiError.BadRequest("'input' is empty.", "input");
        string format = fields.String("encoding_format") ?? "float";
        // base64: the float32 values in the machine's byte order (little-endian on x64 and Arm64), which OpenAI's clients ask for by default.
        if (format is not ("float" or "base64"))
            throw ApiError.BadRequest($"'encoding_format' is '{format}'; expected float or base64.", "encoding_format", "invalid_value");
        var options = new EmbeddingGenerationOptions { ModelId = modelId };
        if (fields.Integer("dimensions") is long dimensions) options.Dimensions = (int)Math.Clamp(dimensions, int.MinValue, int.MaxValue);

        GeneratedEmbeddings<Embedding<float>> embeddings;
        try
        {
            embeddings = await generator.GenerateAsync(input, options, context.RequestAborted).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw ApiError.BadRequest(e.Message, e.ParamName == "options" ? "dimensions" : "input");
        }
        await JsonBody.WriteAsync(context.Response, json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "list");
            json.WriteStartArray("data");
            for (int i = 0; i < embeddings.Count; i++)
            {
                json.WriteStartObject();
                json.WriteString("object", "embedding");
                json.WriteNumber("index", i);
                ReadOnlySpan<float> vector = embeddings[i].Vector.Span;
                if (format == "base64") json.WriteBase64String("embedding", MemoryMarshal.AsBytes(vector));
                else
                {
                    json.WriteStartArray("embedding");
                    foreach (float value in vector) json.WriteNumberValue(value);
                    json.WriteEndArray();
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteString("model", modelId);
            long tokens = embeddings.Usage?.InputTokenCount ?? 0;
            json.WriteStartObject("usage");
            json.WriteNumber("prompt_tokens", tokens);
            json.WriteNumber("total_tokens", embeddings.Usage?.TotalTokenCount ?? tokens);
            json.WriteEndObject();
            json.WriteEndObject();
        }).ConfigureAwait(false);
    }
}
