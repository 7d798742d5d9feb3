/// The version orderd reports (`orderd --version`, logs, `/status`).
public enum OrderdVersion {
    public static let current = "0.1.0"
}
