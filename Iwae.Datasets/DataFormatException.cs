namespace Iwae.Datasets;

/// <summary>
/// The one exception the data layer throws for input it cannot use: a missing file, a wrong magic number,
/// an unsupported IDX data type, truncated or trailing data, absurd dimensions, corrupt gzip, or splits
/// that do not match. The message is a single line of the form <c>path: what is wrong</c>, so a command
/// line tool can catch this one type and print <see cref="Exception.Message"/> as it is.
/// </summary>
public sealed class DataFormatException : Exception
{
    /// <summary>The file (or folder) the problem is about, when there is one.</summary>
    public string? FilePath { get; }

    /// <summary>An exception with no message (for serializers and frameworks).</summary>
    public DataFormatException() { }

    /// <summary>An exception with a one-line <paramref name="message"/>.</summary>
    public DataFormatException(string message) : base(message) { }

    /// <summary>An exception with a one-line <paramref name="message"/> and its cause.</summary>
    public DataFormatException(string message, Exception? innerException) : base(message, innerException) { }

    private DataFormatException(string path, string problem, Exception? innerException)
        : base($"{path}: {OneLine(problem)}", innerException) => FilePath = path;

    /// <summary>"<paramref name="path"/>: <paramref name="problem"/>", flattened to one line; data built in memory (no path) are called so.</summary>
    public static DataFormatException At(string path, string problem, Exception? innerException = null)
        => new(string.IsNullOrEmpty(path) ? "data held in memory" : path, problem, innerException);

    /// <summary>Messages from the BCL (gzip, IO) may span lines; ours must not.</summary>
    internal static string OneLine(string text)
        => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
