/**
 * The French catalog, keyed by the English message as gettext keys it. `{name}`
 * stands for a value the message carries. Wording comes from the French catalogs
 * of Django 3.2, Django REST framework 3.14 and SimpleJWT 5.2 wherever they have
 * the message (so Django users read what they already know); the rest is ours.
 * `\u00a0` is the no-break space French typography puts inside « » and before « : ».
 */
export const FR: Readonly<Record<string, string>> = {
  // Domain errors (SimpleJWT, DRF; the first is SPEC's own wording).
  'No active account found with the given credentials': 'Identifiants invalides.',
  'Token is invalid or expired': 'Le jeton est invalide ou expiré',
  'Token has wrong type': 'Le jeton a un type erroné',
  'Token has no id': "Le jeton n'a pas d'id",
  "Token has no 'exp' claim": "Le jeton n'a pas le privilège 'exp'",
  'Token is blacklisted': 'Le jeton a été banni',
  'Token contained no recognizable user identification': "Le jeton ne contient aucune information permettant d'identifier l'utilisateur",
  'Given token not valid for any token type': "Le type de jeton fourni n'est pas valide",
  'Authentication credentials were not provided.': "Informations d'authentification non fournies.",
  'Authorization header must contain two space-delimited values': "L'en-tête 'Authorization' doit contenir deux valeurs séparées par des espaces",
  'User not found': "L'utilisateur n'a pas été trouvé",
  'User is inactive': "L'utilisateur est désactivé",
  'You do not have permission to perform this action.': "Vous n'avez pas la permission d'effectuer cette action.",
  'Password change required.': 'Changement de mot de passe requis.',
  'A second factor must be set up first.': "Un second facteur doit d'abord être configuré.",
  'The account this user belongs to is inactive.': 'Le compte auquel appartient cet utilisateur est désactivé.',
  'Not found.': 'Pas trouvé.',
  'Service temporarily unavailable, try again later.': 'Service temporairement indisponible, réessayez plus tard.',
  'Multi-factor authentication required.': 'Authentification à deux facteurs requise.',
  'The MFA token is invalid or expired.': 'Le jeton de second facteur est invalide ou expiré.',
  'Invalid code.': 'Code invalide.',
  'This code has already been used.': 'Ce code a déjà été utilisé.',
  'Too many failed codes: the second factor is locked for a while.': 'Trop de codes erronés\u00a0: le second facteur est verrouillé pour un moment.',
  'A second factor is already enabled.': 'Un second facteur est déjà activé.',
  'No enrolment is pending, or it has expired.': "Aucune inscription n'est en attente, ou elle a expiré.",
  'This action requires a session signed in with a second factor.': 'Cette action demande une session ouverte avec un second facteur.',
  'You cannot reset your own second factor here: remove it from your account.': 'Vous ne pouvez pas réinitialiser votre propre second facteur ici\u00a0: retirez-le depuis votre compte.',
  'The passkey could not be verified.': "La clé d'accès n'a pas pu être vérifiée.",
  'Invalid password.': 'Mot de passe invalide.',

  // Request-level errors (DRF).
  'JSON parse error': "Erreur d'analyse JSON",
  'JSON parse error - {detail}': "Erreur d'analyse JSON - {detail}",
  'Multipart form parse error - {detail}': "Erreur d'analyse du formulaire multipart - {detail}",
  'No data provided': 'Aucune donnée fournie',
  'Bad request.': 'Requête invalide.',
  'Unsupported media type in request.': 'Type de média non supporté.',
  'Unsupported media type "{media_type}" in request.': 'Type de média «\u00a0{media_type}\u00a0» non supporté.',
  'Request body is too large.': 'Le corps de la requête est trop volumineux.',
  'Method not allowed.': 'Méthode non autorisée.',
  'Method "{method}" not allowed.': 'Méthode «\u00a0{method}\u00a0» non autorisée.',
  'A server error occurred.': 'Une erreur du serveur est survenue.',
  'The request was not received in time.': "La requête n'a pas été reçue à temps.",
  'Request header fields are too large.': 'Les en-têtes de la requête sont trop volumineux.',
  'Request was throttled.': 'Requête ralentie.',
  'Request was throttled. Expected available in {wait} second.': 'Requête ralentie. Disponible de nouveau dans {wait}\u00a0seconde.',
  'Request was throttled. Expected available in {wait} seconds.': 'Requête ralentie. Disponible de nouveau dans {wait}\u00a0secondes.',
  'CSRF Failed: {reason}': 'Échec de la vérification CSRF\u00a0: {reason}',
  'Invalid page.': 'Page non valide.',

  // Field errors (DRF's fields, Django's forms).
  'This field is required.': 'Ce champ est obligatoire.',
  'This field may not be blank.': 'Ce champ ne peut être vide.',
  'This field may not be null.': 'Ce champ ne peut être nul.',
  'Not a valid string.': 'Chaîne de caractères non valide.',
  'Invalid value.': 'Valeur non valide.',
  'Invalid data. Expected a dictionary, but got {datatype}.': 'Donnée non valide. Attendait un dictionnaire, a reçu {datatype}.',
  'Ensure this field has no more than {max_length} characters.': 'Assurez-vous que ce champ comporte au plus {max_length}\u00a0caractères.',
  'Ensure this field has at least {min_length} characters.': 'Assurez-vous que ce champ comporte au moins {min_length}\u00a0caractères.',
  'Null characters are not allowed.': 'Le caractère nul n’est pas autorisé.',
  'A valid integer is required.': 'Un nombre entier valide est requis.',
  'Must be a valid boolean.': 'Doit être un booléen valide.',
  'Enter a valid email address.': 'Saisissez une adresse e-mail valide.',
  'Enter a valid date/time.': 'Saisissez une date et une heure valides.',
  'Ensure this value is greater than or equal to {min_value}.': 'Assurez-vous que cette valeur est supérieure ou égale à\u00a0{min_value}.',
  'Ensure this value is less than or equal to {max_value}.': 'Assurez-vous que cette valeur est inférieure ou égale à\u00a0{max_value}.',
  '"{input}" is not a valid choice.': "«\u00a0{input}\u00a0» n'est pas un choix valide.",
  'Select a valid choice. {value} is not one of the available choices.': 'Sélectionnez un choix valide. {value} n’en fait pas partie.',
  'Invalid pk "{pk_value}" - object does not exist.': "Clé primaire «\u00a0{pk_value}\u00a0» non valide - l'objet n'existe pas.",
  'An account with that name already exists.': 'Un compte avec ce nom existe déjà.',
  'Ensure this search has no more than {max_terms} terms.': 'Assurez-vous que cette recherche comporte au plus {max_terms}\u00a0termes.',

  // Users (django.contrib.auth).
  'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.':
    'Saisissez un nom d’utilisateur valide. Il ne peut contenir que des lettres, des nombres ou les caractères «\u00a0@\u00a0», «\u00a0.\u00a0», «\u00a0+\u00a0», «\u00a0-\u00a0» et «\u00a0_\u00a0».',
  'A user with that username already exists.': 'Un utilisateur avec ce nom existe déjà.',
  'A user with that email already exists.': 'Un utilisateur avec cette adresse électronique existe déjà.',
  'A user with that id does not exist.': 'Aucun utilisateur ne correspond à cet identifiant.',
  'Your old password was entered incorrectly. Please enter it again.': 'Votre ancien mot de passe est incorrect. Veuillez le rectifier.',
  'The new password must be different from the old one.': 'Le nouveau mot de passe doit être différent de l’ancien.',

  // Password reset (djoser's and dj-rest-auth's words, their French catalogs where they have them).
  "Invalid user id or user doesn't exist.": "Identifiant d'utilisateur non valide ou utilisateur inexistant.",
  'Invalid token for given user.': 'Jeton non valide pour cet utilisateur.',
  "The two password fields didn't match.": 'Les deux mots de passe ne correspondent pas.',
  'The two password fields didn’t match.': 'Les deux mots de passe ne correspondent pas.',
  'Invalid value': 'Valeur non valide',
  'Password reset e-mail has been sent.': 'Un e-mail de réinitialisation du mot de passe a été envoyé.',
  'Password has been reset with the new password.': 'Le mot de passe a été réinitialisé avec le nouveau mot de passe.',
  'This user has no email address.': 'Cet utilisateur n’a pas d’adresse électronique.',
  'Email address is not verified.': 'L’adresse électronique n’est pas vérifiée.',
  'Stale token for given user.': 'Jeton périmé pour cet utilisateur.',
  ok: 'ok',

  // Password validators (django.contrib.auth.password_validation).
  'This password is too short. It must contain at least {min_length} character.': 'Ce mot de passe est trop court. Il doit contenir au minimum {min_length} caractère.',
  'This password is too short. It must contain at least {min_length} characters.': 'Ce mot de passe est trop court. Il doit contenir au minimum {min_length} caractères.',
  'This password is too common.': 'Ce mot de passe est trop courant.',
  'This password is entirely numeric.': 'Ce mot de passe est entièrement numérique.',
  'The password is too similar to the {verbose_name}.': 'Le mot de passe est trop semblable au champ «\u00a0{verbose_name}\u00a0».',
};

/**
 * Values that are themselves words to translate, by placeholder: Django's field
 * verbose names, Fastify's JSON parse failure, the reasons of a CSRF failure.
 * Other values (user input, numbers) are kept as they are.
 */
export const FR_VALUES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  verbose_name: {
    username: 'nom d’utilisateur',
    'email address': 'adresse électronique',
    'first name': 'prénom',
    'last name': 'nom',
  },
  // Fastify's only words on a malformed JSON body.
  detail: {
    "Body is not valid JSON but content-type is set to 'application/json'":
      "Le corps de la requête n'est pas du JSON valide alors que son type de contenu est 'application/json'",
  },
  reason: {
    'CSRF cookie not set.': 'cookie CSRF absent.',
    'CSRF token missing.': 'jeton CSRF manquant.',
    'CSRF token missing or incorrect.': 'jeton CSRF manquant ou incorrect.',
    'CSRF token incorrect.': 'jeton CSRF incorrect.',
  },
};
