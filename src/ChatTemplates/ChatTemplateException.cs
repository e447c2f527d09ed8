namespace MlPipelines.ChatTemplates;

/// <summary>
/// A chat template could not be parsed or rendered: a syntax error, an error while rendering (an undefined value used
/// where Jinja raises, a type error, a limit), or the template's own <c>raise_exception(message)</c>.
/// </summary>
public sealed class ChatTemplateException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong (for <see cref="RaisedByTemplate"/>: exactly the template's message).</param>
    /// <param name="line">The 1-based line in the template source, or 0 when unknown.</param>
    /// <param name="column">The 1-based column in the template source, or 0 when unknown.</param>
    /// <param name="raisedByTemplate">Whether the template raised it itself through <c>raise_exception</c>.</param>
    public ChatTemplateException(string message, int line = 0, int column = 0, bool raisedByTemplate = false)
        : base(Format(message, line, column, raisedByTemplate))
    {
        Reason = message;
        Line = line;
        Column = column;
        RaisedByTemplate = raisedByTemplate;
    }

    /// <summary>The error without its location (for a template's <c>raise_exception</c>: the template's message).</summary>
    public string Reason { get; }

    /// <summary>The 1-based line in the template source where the error was found, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>The 1-based column in the template source where the error was found, or 0 when unknown.</summary>
    public int Column { get; }

    /// <summary>
    /// True when the template raised the error itself through <c>raise_exception(message)</c> (for example Llama 2's
    /// "Conversation roles must alternate ..."); <see cref="Exception.Message"/> is then exactly the template's message.
    /// </summary>
    public bool RaisedByTemplate { get; }

    // A template may raise with no words at all (raise_exception() or raise_exception('')); the exception still says what happened.
    private static string Format(string message, int line, int column, bool raised) =>
        raised && string.IsNullOrWhiteSpace(message) ? "the chat template refused the conversation (raise_exception, without a message)"
        : raised || line <= 0 ? message : $"line {line}, column {column}: {message}";
}
