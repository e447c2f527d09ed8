using System.Net;

namespace MlPipelines.Hub;

/// <summary>What a request was for, so a failure can say which repository, revision or file it concerns.</summary>
/// <param name="RepoId">The repository.</param>
/// <param name="Revision">The revision asked for.</param>
/// <param name="FileName">The file, or null for the repository API.</param>
internal sealed record RequestSubject(string RepoId, string Revision, string? FileName)
{
    public string Describe() => FileName is null ? $"{RepoId}@{Revision}" : $"{FileName} of {RepoId}@{Revision}";
}

/// <summary>Turns the Hub's error answers into <see cref="HubException"/>s with messages a user can act on.</summary>
internal static class HubErrors
{
    /// <summary>An error status that is not retried (4xx other than 429).</summary>
    public static HubException FromResponse(HttpResponseMessage response, RequestSubject subject, bool tokenSent, bool fromEndpoint)
    {
        int status = (int)response.StatusCode;
        string? code = Header(response, "X-Error-Code");
        string detail = Header(response, "X-Error-Message") is { Length: > 0 } text ? $": {text}" : "";
        string tokenNote = tokenSent ? "a token was sent but has no access" : "no token was sent";

        // The Hub answers 401 + RepoNotFound for repositories that do not exist *or* that the caller may not see.
        if (code == "RepoNotFound")
            return new HubException(HubErrorKind.RepositoryNotFound,
                $"repository not found: {subject.RepoId}; if it is private or gated, set HF_TOKEN to a token with access ({tokenNote})",
                statusCode: status);
        if (code == "RevisionNotFound")
            return new HubException(HubErrorKind.RevisionNotFound,
                $"revision not found: {subject.Revision} in {subject.RepoId} (expected a branch, tag or commit hash)", statusCode: status);
        if (code == "EntryNotFound")
            return new HubException(HubErrorKind.EntryNotFound,
                $"file not found: {subject.FileName ?? "(unknown)"} in {subject.RepoId}@{subject.Revision}", statusCode: status);

        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            // A storage host (after a redirect) refusing a signed address is not about the user's access rights.
            if (!fromEndpoint)
                return new HubException(HubErrorKind.AccessDenied,
                    $"the download of {subject.Describe()} was refused by {response.RequestMessage?.RequestUri?.Host} (HTTP {status}){detail}",
                    statusCode: status);
            return new HubException(HubErrorKind.AccessDenied,
                $"access denied to {subject.RepoId}: it may be gated or private; set HF_TOKEN to a token with access ({tokenNote}){detail}",
                statusCode: status);
        }
        if (response.StatusCode == HttpStatusCode.NotFound)
            return subject.FileName is null
                ? new HubException(HubErrorKind.RepositoryNotFound,
                    $"no such repository or revision: {subject.RepoId}@{subject.Revision}{detail}", statusCode: status)
                : new HubException(HubErrorKind.EntryNotFound,
                    $"file not found: {subject.FileName} in {subject.RepoId}@{subject.Revision}{detail}", statusCode: status);
        return Status(response, subject, attempts: 1);
    }

    /// <summary>A status the client cannot use, after <paramref name="attempts"/> attempts.</summary>
    public static HubException Status(HttpResponseMessage response, RequestSubject subject, int attempts)
    {
        int status = (int)response.StatusCode;
        string reason = response.ReasonPhrase is { Length: > 0 } r ? $" {r}" : "";
        string detail = Header(response, "X-Error-Message") is { Length: > 0 } text ? $": {text}" : "";
        string tries = attempts > 1 ? $" after {attempts} attempts" : "";
        return new HubException(HubErrorKind.HttpStatus,
            $"the Hub answered HTTP {status}{reason} for {subject.Describe()}{tries}{detail}", statusCode: status);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}
