namespace Iwae.Core.Checkpoints;

/// <summary>
/// A checkpoint or safetensors file that cannot be used: missing, truncated, malformed, or not matching the
/// model it is loaded into. The message is one line, "&lt;path&gt;: &lt;problem&gt;".
/// </summary>
public sealed class CheckpointFormatException : Exception
{
    /// <summary>A failure reading <paramref name="path"/>, described by <paramref name="problem"/> (one line).</summary>
    public CheckpointFormatException(string path, string problem, Exception? innerException = null)
        : base(OneLine($"{path}: {problem}"), innerException)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The file the problem was found in, as the caller named it.</summary>
    public string FilePath { get; }

    /// <summary>The problem, without the path.</summary>
    public string Problem { get; }

    // Messages quote bits of the file (names, JSON errors); keep them on one line for logs.
    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
