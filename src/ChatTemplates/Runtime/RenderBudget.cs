namespace MlPipelines.ChatTemplates.Runtime;

/// <summary>
/// What one render may do in all: loop iterations plus macro calls, and characters of text made (strings built by the
/// template's operations, and the output). Jinja has no such limits — a template with three nested loops over its own
/// strings, or a loop that builds a large string each time round, runs for minutes — but a template comes with a
/// downloaded model, and rendering must stay bounded. The limits are far above what chat templates do: a conversation
/// filling a 128K-token context renders about half a million characters from a few thousand iterations.
/// </summary>
internal static class RenderBudget
{
    /// <summary>Loop iterations (filter tests included) and macro calls, together, per render.</summary>
    public const int MaxSteps = 100_000;

    /// <summary>Characters of text the template's operations and its output may make, together, per render.</summary>
    public const long MaxCharacters = 32L * 1024 * 1024;

    // The render on this thread (rendering is synchronous); zero outside a render, where nothing is counted.
    [ThreadStatic] private static int _depth;
    [ThreadStatic] private static int _steps;
    [ThreadStatic] private static long _characters;

    /// <summary>Starts counting for a render; dispose at its end. A render inside a render shares the outer one's budget.</summary>
    public static Scope Begin()
    {
        if (_depth++ == 0)
        {
            _steps = 0;
            _characters = 0;
        }
        return new Scope();
    }

    /// <summary>One loop iteration or macro call.</summary>
    public static void Step()
    {
        if (_depth > 0 && ++_steps > MaxSteps)
            throw new TemplateRuntimeError($"the template ran more than {MaxSteps:N0} loop iterations and macro calls");
    }

    /// <summary><paramref name="count"/> characters of new text.</summary>
    public static void Characters(long count)
    {
        if (_depth > 0 && (_characters += count) > MaxCharacters)
            throw new TemplateRuntimeError($"the template made more than {MaxCharacters:N0} characters of text");
    }

    public readonly struct Scope : IDisposable
    {
        public void Dispose() => _depth--;
    }
}
