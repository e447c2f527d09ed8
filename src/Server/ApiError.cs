using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace MlPipelines.Server;

/// <summary>
/// A request the server refuses, answered as OpenAI answers it: <c>{"error": {"message", "type", "param", "code"}}</c>
/// with <see cref="Status"/>. Thrown anywhere while a request is read or checked; the error middleware writes it.
/// </summary>
internal sealed class ApiError(int status, string message, string? param = null, string? code = null, string type = ApiError.InvalidRequest)
    : Exception(message)
{
    public const string InvalidRequest = "invalid_request_error";

    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static ApiError BadRequest(string message, string? param = null, string? code = null) => new(StatusCodes.Status400BadRequest, message, param, code);

    /// <summary>Writes the error object (without the status) — also used inside a stream, after the status is sent.</summary>
    public void WriteTo(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteStartObject("error");
        json.WriteString("message", Message);
        json.WriteString("type", Type);
        json.WriteString("param", Param);
        json.WriteString("code", Code);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>Answers the request with this error.</summary>
    public async Task WriteAsync(HttpResponse response)
    {
        response.StatusCode = Status;
        if (Status == StatusCodes.Status401Unauthorized) response.Headers.WWWAuthenticate = "Bearer";
        await JsonBody.WriteAsync(response, WriteTo).ConfigureAwait(false);
    }
}
