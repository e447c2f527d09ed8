using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace MlPipelines.Server;

/// <summary>Reading a request's JSON object and writing JSON answers with <see cref="Utf8JsonWriter"/> (no reflection, exact shapes).</summary>
internal static class JsonBody
{
    /// <summary>The request body as a JSON object; malformed JSON or another JSON value is a 400.</summary>
    public static async Task<JsonDocument> ReadObjectAsync(HttpRequest request, CancellationToken ct)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, default, ct).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw ApiError.BadRequest($"The request body is not valid JSON: {e.Message}");
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw ApiError.BadRequest("The request body must be a JSON object.");
        }
        return document;
    }

    /// <summary>Writes a JSON answer with the response's status (200 unless set).</summary>
    public static async Task WriteAsync(HttpResponse response, Action<Utf8JsonWriter> write)
    {
        response.ContentType = "application/json";
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer)) write(json);
        await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length)).ConfigureAwait(false);
    }

    /// <summary>One object as bytes (a server-sent event's data).</summary>
    public static byte[] ToBytes(Action<Utf8JsonWriter> write)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer)) write(json);
        return buffer.ToArray();
    }
}
